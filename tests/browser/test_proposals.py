"""Proposals in a real browser (issue 15): the organiser previews the meetings proposed to
people with free slots (how many, to whom, why) and sends them, both sides accept in their
inboxes on a phone, the organiser solves and publishes, and the accepted proposal is a meeting
in both agendas, with names, times and places. Screenshots in artifacts/screenshots/
(`p15-proposals-...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from matchmaking.platform.models import (
    Meeting,
    Organisation,
    Participant,
    Wish,
    WishStatus,
)
from tests.browser.conftest import Served
from tests.browser.test_pages_for_people import FITS, PHONE, _db, _organiser, _participant, _setup
from tests.browser.test_scenario import _shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Who is who: (participant, name, organisation, offers, seeks).
PROFILES = [
    ("p1", "Ana Costa", "Nordic Cells AB", [], ["partners for battery recycling"]),
    ("p2", "Ben Roy", "Atlantic Recyclers Inc.", ["recycling of used batteries"], []),
    ("p3", "Chen Lin", "Pacific Grid Ltd", [], ["smart grid software"]),
    ("p4", "Dara Novak", "Alpine Software GmbH", ["software for smart grids"], []),
]


def _profiles(served: Served) -> None:
    with _db(served) as db:
        people = {p.key: p for p in db.scalars(select(Participant))}
        for key, name, organisation, offers, seeks in PROFILES:
            person = people[key]
            person.name = name
            org = db.get(Organisation, person.organisation_id)
            assert org is not None
            org.name, org.offers, org.seeks, org.sectors = organisation, offers, seeks, []
        db.commit()


def _accept_in_inbox(browser: Any, served: Served, slug: str, token: str, other: str) -> Any:
    page = _participant(browser, served, slug, token, viewport=PHONE)
    page.goto(f"{served.url}/e/{slug}/inbox")
    card = page.locator("li", has_text=f"The organisers propose you meet {other}")
    card.first.wait_for()
    return page


def test_the_organiser_proposes_both_accept_and_the_meeting_is_in_both_agendas(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=4)
    slug = built.event.slug
    _profiles(served)

    # The organiser previews the round: how many, to whom, why.
    organiser = _organiser(browser, served, tokens["organiser"], viewport=PHONE)
    organiser.goto(f"{served.url}/organiser/e/{slug}")
    organiser.get_by_role("link", name="Propose meetings to fill free slots").click()
    organiser.get_by_label("Proposals per participant, at most").fill("1")
    organiser.get_by_role("button", name="Preview the proposals").click()
    preview = organiser.locator("section.preview")
    preview.wait_for()
    text = preview.inner_text()
    assert "no schedule yet" in text
    assert "4 participants have free slots" in text
    assert "2 proposals to 4 participants" in text
    assert "Ana Costa (Nordic Cells AB) and Ben Roy (Atlantic Recyclers Inc.)" in text
    assert (
        "Why, as Ana Costa reads it: Ben Roy's organisation offers recycling of used "
        "batteries, which you seek (partners for battery recycling)." in text
    )
    assert (
        "As Ben Roy reads it: Ana Costa's organisation seeks partners for battery recycling, "
        "which you offer (recycling of used batteries)." in text
    )
    assert "Chen Lin (Pacific Grid Ltd) and Dara Novak (Alpine Software GmbH)" in text
    assert "p1" not in text.split()
    assert "o1" not in text.split()
    assert organiser.evaluate(FITS), "the preview is wider than the phone"
    _shot(organiser, screenshots, "p15-proposals-preview-phone")
    with _db(served) as db:
        assert db.scalar(select(Wish)) is None  # a preview stores nothing
    organiser.get_by_role("button", name="Send 2 proposals").click()
    organiser.get_by_role("status").wait_for()
    _shot(organiser, screenshots, "p15-proposals-sent-phone")

    # Both sides accept in their inbox, each reading the reasons in their own words.
    ana = _accept_in_inbox(browser, served, slug, tokens["p1"], "Ben Roy")
    assert "offers recycling of used batteries, which you seek" in ana.inner_text("main")
    assert ana.evaluate(FITS), "the inbox is wider than the phone"
    _shot(ana, screenshots, "p15-proposals-inbox-ana-phone")
    ana.get_by_role("button", name="Accept the proposed meeting with Ben Roy").press("Enter")
    ana.get_by_text("waiting for the other side").wait_for()
    _shot(ana, screenshots, "p15-proposals-inbox-ana-accepted-phone")

    ben = _accept_in_inbox(browser, served, slug, tokens["p2"], "Ana Costa")
    assert "seeks partners for battery recycling, which you offer" in ben.inner_text("main")
    ben.get_by_role("button", name="Accept the proposed meeting with Ana Costa").click()
    ben.locator(".status-accepted").first.wait_for()
    _shot(ben, screenshots, "p15-proposals-inbox-ben-accepted-phone")
    with _db(served) as db:
        statuses = {
            (w.sender.key, w.recipient.key if w.recipient else ""): w.status
            for w in db.scalars(select(Wish))
        }
    assert statuses[("p1", "p2")] is WishStatus.accepted
    assert statuses[("p3", "p4")] is WishStatus.requested  # nobody answered it

    # The organiser solves and publishes.
    organiser.goto(f"{served.url}/organiser/e/{slug}")
    organiser.get_by_label("Time limit (seconds)").fill("5")
    organiser.get_by_role("button", name="Solve now").click()
    organiser.get_by_role("link", name="Review version 1").wait_for(timeout=60_000)
    organiser.get_by_role("link", name="Review version 1").click()
    organiser.get_by_role("heading", name="Schedule version 1").wait_for()
    organiser.get_by_role("button", name="Publish version 1").click()
    organiser.get_by_text("Version 1 is published.").wait_for()
    _shot(organiser, screenshots, "p15-proposals-published-phone")

    # The accepted proposal is a meeting in both agendas: the other's name, time and place.
    for page, other, name in ((ana, "Ben Roy", "ana"), (ben, "Ana Costa", "ben")):
        page.goto(f"{served.url}/e/{slug}/me")
        agenda = page.locator("ol.agenda")
        agenda.wait_for()
        words = agenda.inner_text()
        assert other in words
        assert "Table 1" in words or "Table 2" in words
        assert "Chen Lin" not in words
        assert "Dara Novak" not in words
        assert page.evaluate(FITS), "the agenda is wider than the phone"
        _shot(page, screenshots, f"p15-proposals-agenda-{name}-phone")
    with _db(served) as db:
        pairs = {
            frozenset((m.participant_a.key, m.participant_b.key)): m
            for m in db.scalars(select(Meeting))
        }
        meeting = pairs[frozenset(("p1", "p2"))]
        assert frozenset(("p3", "p4")) not in pairs
        start = f"{meeting.slot.start:%H:%M}"
        place = meeting.location.name
    for page in (ana, ben):
        words = page.locator("ol.agenda").inner_text()
        assert start in words
        assert place in words
