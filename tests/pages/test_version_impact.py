"""Before publishing a new version: what it does to people, in names, times and tables, on the
version page and in the API's diff; cancelled meetings need the organiser's confirmation."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.platform.models import ScheduleVersion, Slot, Wish, WishStatus
from tests.calendars.builders import Built, add_version, at
from tests.pages.conftest import Site, csrf_of


def two_versions(session: Session, built: Built) -> None:
    """Version 1 published: Person 1 & 2 at 09:00, Person 3 & 4 at 09:25 (table 1).
    Version 2, re-planned from it: the first moves to 09:50, the second is cancelled, Person 5
    & 6 meet for the first time; it has one break more."""
    for n, (a, b) in enumerate([("p1", "p2"), ("p3", "p4"), ("p5", "p6")], start=1):
        session.add(
            Wish(
                event=built.event,
                key=f"w{n}",
                sender=built.participants[a],
                recipient=built.participants[b],
                priority=2,
                status=WishStatus.accepted,
            )
        )
    first = add_version(
        session,
        built,
        [("m-a", "s1", "t1", "p1", "p2"), ("m-b", "s2", "t1", "p3", "p4")],
        published_at=at(20),
    )
    first.objective = {"scheduled": 2, "scheduled_weight": 4, "breaks": 0, "min_share": 0.5}
    second = add_version(
        session,
        built,
        [("m-a", "s3", "t1", "p1", "p2"), ("m-c", "s1", "t2", "p5", "p6")],
    )
    second.objective = {"scheduled": 2, "scheduled_weight": 4, "breaks": 1, "min_share": 0.5}
    second.based_on_id = first.id
    session.commit()


def test_the_version_page_says_who_is_moved_cancelled_and_added_and_which_goals_get_worse(
    site: Site,
) -> None:
    two_versions(site.session, site.built)
    client = site.client()
    site.sign_in_organiser(client)
    page = client.get(f"/organiser/e/{site.slug}/versions/2").text
    impact = page[page.index('id="impact"') : page.index('id="unscheduled-h"')]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", impact))

    assert "1 meeting moved, 1 cancelled, 1 added, 0 unchanged; 6 participants affected" in text
    assert "Person 3 (Cluster 3) &amp; Person 4 (Company 4)" in impact
    # Times and tables, never keys such as "s2 · t1 · p3 & p4".
    assert (
        "cancelled Person 3 (Cluster 3) &amp; Person 4 (Company 4) Sat 09:25–09:45 · Table 1"
        in (text)
    )
    assert "moved Person 1 (Cluster 1) &amp; Person 2 (Company 2) Sat 09:00–09:20 · Table 1" in (
        text
    )
    assert not re.search(r"\b(s\d|t\d|p\d|m-[abc])\b", text)
    assert "Breaks between meetings: 0 → 1 (worse)" in text
    assert "Wishes met: 2 → 2 (the same)" in text
    # The people affected, those who lose a meeting first.
    people = re.findall(r"<li><strong>([^<]+)</strong> \(([^)]+)\):\s*([^<]+)</li>", impact)
    assert [(n, why.strip()) for n, _, why in people] == [
        ("Person 3", "1 cancelled"),
        ("Person 4", "1 cancelled"),
        ("Person 1", "1 moved"),
        ("Person 2", "1 moved"),
        ("Person 5", "1 added"),
        ("Person 6", "1 added"),
    ]
    assert 'id="confirm-cancelled"' in page
    assert "required" in page


def test_the_version_page_warns_when_its_changes_are_at_times_already_past(site: Site) -> None:
    # The event was on Sat 26 Oct 2024: every change of version 2 (a move from 09:00 to
    # 09:50, a cancellation at 09:25, a new meeting at 09:00) is in the past.
    two_versions(site.session, site.built)
    client = site.client()
    site.sign_in_organiser(client)
    page = client.get(f"/organiser/e/{site.slug}/versions/2").text
    warnings = re.sub(r"\s+", " ", page[page.index('id="publish-warnings"') :])
    assert "3 of the meetings this version moves, cancels or adds are at a time already past" in (
        warnings
    )
    assert "re-plan it from now" in warnings

    # The same versions with the event ten years later: nothing is past, no such warning.
    with site.read() as db:
        for slot in db.scalars(select(Slot)):
            slot.start, slot.end = (
                slot.start + timedelta(days=3653),
                slot.end + timedelta(days=3653),
            )
        db.commit()
    page = client.get(f"/organiser/e/{site.slug}/versions/2").text
    assert "already past" not in page
    assert "Publishing moves 1, cancels 1 and adds 1 meetings" in page


def test_publishing_a_version_that_cancels_meetings_needs_the_confirmation(site: Site) -> None:
    two_versions(site.session, site.built)
    client = site.client()
    site.sign_in_organiser(client)
    path = f"/organiser/e/{site.slug}/versions/2"
    token = csrf_of(client, path)

    refused = client.post(
        f"{path}/publish", data={"csrf_token": token, "force": "yes"}, follow_redirects=False
    )
    assert refused.status_code == 409
    assert "cancels 1 meeting of the published version 1" in refused.text
    with site.read() as db:
        assert db.get_one(ScheduleVersion, 2).published_at is None

    confirmed = client.post(
        f"{path}/publish",
        data={"csrf_token": token, "force": "yes", "confirm_cancelled": "yes"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303, confirmed.text
    with site.read() as db:
        assert db.get_one(ScheduleVersion, 2).published_at is not None


def test_the_api_diff_carries_the_impact_with_names_times_and_locations(site: Site) -> None:
    two_versions(site.session, site.built)
    client = site.client()
    headers = {"Authorization": f"Bearer {site.organiser_token}"}
    body = client.get(f"/api/v1/events/{site.slug}/versions/2/diff", headers=headers).json()

    impact = body["impact"]
    assert (impact["moved"], impact["cancelled"], impact["added"]) == (1, 1, 1)
    assert impact["needs_confirmation"] is True
    assert [p["name"] for p in impact["participants"][:2]] == ["Person 3", "Person 4"]
    assert impact["participants"][0]["cancelled"] == 1
    breaks = next(g for g in impact["goals"] if g["goal"] == "breaks")
    assert (breaks["before"], breaks["after"], breaks["verdict"]) == (0, 1, "worse")
    (removed,) = body["removed"]
    assert removed["old"]["names"] == ["Person 3", "Person 4"]
    assert removed["old"]["location_name"] == "Table 1"
    assert removed["old"]["starts"] == "2024-10-26T09:25:00"
    # Who may not: without a token, nothing.
    assert client.get(f"/api/v1/events/{site.slug}/versions/2/diff").status_code == 401
