"""Issue 18 in a real browser on a phone, by keyboard: staff search a name and check the
person in, a participant marks a no-show and answers feedback from the agenda (which shows
their check-in code), staff read the door lists and the report. Every page fits 390 px and
is saved as a screenshot in artifacts/screenshots/ (`day-…-phone`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from matchmaking.platform.models import CheckIn, MeetingAttendance, MeetingFeedback
from tests.browser.conftest import Served
from tests.browser.test_pages_for_people import (
    CUT_OFF,
    FITS,
    PHONE,
    _db,
    _organiser,
    _participant,
    _setup,
)
from tests.browser.test_scenario import _shot
from tests.calendars.builders import add_version, at

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _fits(page: Any, shots: Path, name: str) -> None:
    assert page.evaluate(FITS), f"{name} is wider than a phone"
    assert page.evaluate(CUT_OFF) == [], f"{name} cuts controls off"
    _shot(page, shots, f"day-{name}-phone")


def test_the_day_on_a_phone_by_keyboard(browser: Any, served: Served, screenshots: Path) -> None:
    built, tokens = _setup(served, participants=6)
    slug = built.event.slug
    with _db(served) as db:
        db.add(built.event)
        add_version(
            db,
            built,
            [("m-a", "s1", "t1", "p1", "p2"), ("m-b", "s2", "t2", "p3", "p4")],
            published_at=at(20),
        )
        db.commit()

    staff = _organiser(browser, served, tokens["organiser"], viewport=PHONE)
    staff.goto(f"{served.url}/organiser/e/{slug}/check-in")
    # The search box has the focus once the page is loaded (autofocus); wait for it, so that
    # no key typed before is lost on a busy machine.
    staff.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
    staff.keyboard.type("person 3")
    staff.keyboard.press("Enter")
    staff.get_by_text("1 found for “person 3”").wait_for()
    _fits(staff, screenshots, "check-in-search")
    staff.get_by_role("button", name="Mark Person 3 arrived").focus()
    staff.keyboard.press("Enter")
    staff.get_by_text("Person 3 (Cluster 3) has arrived.").wait_for()
    _fits(staff, screenshots, "check-in-done")
    with _db(served) as db:
        assert db.scalars(select(CheckIn.participant_id)).all() == [built.participants["p3"].id]

    person = _participant(browser, served, slug, tokens["p1"], viewport=PHONE)
    person.goto(f"{served.url}/e/{slug}/me")
    assert person.locator("svg.qr title").first.text_content() == "Check-in code of Person 1"
    _fits(person, screenshots, "agenda")
    person.get_by_role("button", name="Person 2 did not come").focus()
    person.keyboard.press("Enter")
    person.get_by_text("No-show: Person 2 did not come").wait_for()
    person.get_by_role(
        "button", name="Undo the mark of the meeting of Person 1 and Person 2"
    ).click()
    person.get_by_role("button", name="Mark the meeting of Person 1 and Person 2 held").click()
    person.get_by_text("The meeting of Person 1 & Person 2 is marked held.").wait_for()
    person.get_by_role("link", name="Give feedback on the meeting with Person 2").click()
    _fits(person, screenshots, "feedback")
    person.get_by_label("4", exact=True).check()
    person.get_by_label("Maybe").check()
    person.get_by_label("A partnership").check()
    person.get_by_role("button", name="Send my answers").focus()
    person.keyboard.press("Enter")
    person.get_by_text("Your feedback is sent. Thank you!").wait_for()
    with _db(served) as db:
        assert [(r.uid, r.outcome.value) for r in db.scalars(select(MeetingAttendance))] == [
            ("m-a", "held")
        ]
        assert [(r.usefulness, r.follow_up.value) for r in db.scalars(select(MeetingFeedback))] == [
            (4, "maybe")
        ]

    staff.goto(f"{served.url}/organiser/e/{slug}/door-lists")
    assert staff.locator("section.door-list").count() == 2
    _fits(staff, screenshots, "door-lists")
    staff.goto(f"{served.url}/organiser/e/{slug}/meetings")
    _fits(staff, screenshots, "meetings")
    staff.goto(f"{served.url}/organiser/e/{slug}/report")
    assert "2 meetings planned" in staff.locator("#figures").inner_text().replace("\n", " ")
    _fits(staff, screenshots, "report")
