"""Issue 18 in a real browser on a phone, by keyboard: staff search a name and check the
person in, a participant marks a no-show and answers feedback from the agenda (which shows
their check-in code), staff read the door lists and the report. Every page fits 390 px and
is saved as a screenshot in artifacts/screenshots/ (`day-…-phone`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from sqlalchemy import func, select

from matchmaking.platform.models import (
    CalendarLink,
    CheckIn,
    MeetingAttendance,
    MeetingFeedback,
    SolveJob,
)
from matchmaking.platform.security import CALENDAR_TOKEN_PREFIX, hash_token, new_token
from tests.browser.conftest import Served
from tests.browser.test_pages_for_people import (
    CUT_OFF,
    FITS,
    PHONE,
    _db,
    _organiser,
    _participant,
    _setup,
    _wish,
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


def _feed(served: Served, token: str) -> dict[str, Any]:
    """A participant's calendar feed, parsed: VEVENTs by meeting uid."""
    answer = httpx.get(f"{served.url}/calendars/participants/{token}.ics")
    assert answer.status_code == 200, answer.text
    calendar = icalendar.Calendar.from_ical(answer.content)
    return {str(e["UID"]).split("@")[0]: e for e in calendar.walk("VEVENT")}


def test_someone_leaves_and_the_rest_of_the_day_is_re_planned(
    browser: Any, served: Served, screenshots: Path
) -> None:
    """Check in, a no-show, Person 3 leaves at 09:30: one action re-plans the rest of the day
    without them; the version page shows who is moved before publishing; their feeds say so;
    feedback, and the report."""
    built, tokens = _setup(served, participants=6)
    slug = built.event.slug
    feeds = {key: new_token(CALENDAR_TOKEN_PREFIX) for key in ("p1", "p3", "p5")}
    with _db(served) as db:
        db.add(built.event)
        wishes = {
            key: _wish(db, built, key, a, b)
            for key, a, b in [
                ("w1", "p1", "p2"),
                ("w2", "p3", "p4"),
                ("w3", "p1", "p3"),
                ("w4", "p2", "p5"),
                ("w5", "p5", "p1"),
            ]
        }
        version = add_version(
            db,
            built,
            [
                ("m-1", "s1", "t1", "p1", "p2"),
                ("m-2", "s1", "t2", "p3", "p4"),
                ("m-3", "s3", "t1", "p1", "p3"),
                ("m-4", "s4", "t2", "p2", "p5"),
            ],
            published_at=at(20),
        )
        for meeting, key in zip(version.meetings, ("w1", "w2", "w3", "w4"), strict=True):
            meeting.wishes = [wishes[key]]
        for key, token in feeds.items():
            built.participants[key].calendar_links.append(
                CalendarLink(token_hash=hash_token(token))
            )
        db.commit()
    before = {key: _feed(served, token) for key, token in feeds.items()}

    staff = _organiser(browser, served, tokens["organiser"], viewport=PHONE)
    for name in ("Person 1", "Person 2"):
        staff.goto(f"{served.url}/organiser/e/{slug}/check-in?q={name.replace(' ', '+')}")
        staff.get_by_role("button", name=f"Mark {name} arrived").click()
        staff.get_by_text(f"{name} (").first.wait_for()
    staff.goto(f"{served.url}/organiser/e/{slug}/meetings")
    staff.get_by_role("button", name="Person 4 did not come").click()
    staff.get_by_text("(Person 4 did not come)").wait_for()
    staff.get_by_role("button", name="Mark the meeting of Person 1 and Person 2 held").click()
    staff.get_by_text("The meeting of Person 1 & Person 2 is marked held.").wait_for()

    # Person 3 leaves at 09:30: marked away on their check-in page, then the one action.
    staff.goto(f"{served.url}/organiser/e/{slug}/check-in/p3")
    staff.get_by_label("Away from").fill("2024-10-26T09:30")
    _fits(staff, screenshots, "away")
    staff.get_by_role("button", name="Mark Person 3 away").focus()
    staff.keyboard.press("Enter")
    staff.get_by_text("Person 3 is away from Sat 26 Oct 09:30.").wait_for()
    staff.get_by_label("Keep every meeting before").fill("2024-10-26T09:30")
    assert "Away from 26 Oct 2024, 09:30 CEST" in staff.locator("main").inner_text()
    _fits(staff, screenshots, "rest-of-day")
    staff.get_by_role("button", name="Re-plan the rest of the day").focus()
    staff.keyboard.press("Enter")
    staff.get_by_text("Re-planning from Sat 26 Oct 09:30 without Person 3").wait_for()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with _db(served) as db:
            job = db.scalars(select(SolveJob)).one()
        if job.status.value in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert job.status.value == "succeeded", job.error

    # The preview: who is moved, cancelled or added, before anything is published.
    staff.goto(f"{served.url}/organiser/e/{slug}/versions/2")
    impact = staff.locator("#impact")
    impact.get_by_role("heading", name="What publishing does to people").wait_for()
    assert "0 meetings moved, 1 cancelled, 1 added" in impact.inner_text()
    changes = impact.locator("table.impact-changes")
    assert "cancelled" in changes.locator("tr", has_text="Person 3").inner_text()
    assert "added" in changes.locator("tr", has_text="Person 5").inner_text()
    assert (
        "Person 3 (Cluster 3) is away from Sat 26 Oct 09:30" in staff.locator("main").inner_text()
    )
    _fits(staff, screenshots, "rest-of-day-version")
    for part in ("diff", "unscheduled"):
        staff.locator(f"section[aria-labelledby='{part}-h']").screenshot(
            path=str(screenshots / f"day-rest-of-day-version-{part}-phone.png")
        )
    staff.get_by_label("I have read who loses a meeting").check()
    if staff.get_by_label("Publish anyway").count():
        staff.get_by_label("Publish anyway").check()
    staff.get_by_role("button", name="Publish version 2").click()
    staff.get_by_text("Version 2 is published.").wait_for()

    # Their feeds, parsed: Person 1 & Person 3 at 09:50 is cancelled with a higher SEQUENCE
    # for both; Person 5 meets Person 1 after 09:30; the past stays as it was.
    after = {key: _feed(served, token) for key, token in feeds.items()}
    for key in ("p1", "p3"):
        cancelled = after[key]["m-3"]
        assert str(cancelled["STATUS"]) == "CANCELLED"
        assert int(cancelled["SEQUENCE"]) > int(before[key]["m-3"]["SEQUENCE"])
        assert str(after[key]["m-1" if key == "p1" else "m-2"]["STATUS"]) == "CONFIRMED"
    (added,) = (e for uid, e in after["p5"].items() if uid not in before["p5"])
    assert "Person 1" in str(added["SUMMARY"])
    assert str(added["STATUS"]) == "CONFIRMED"
    assert added["DTSTART"].dt.strftime("%H:%M") >= "09:50"
    assert after["p5"]["m-4"]["DTSTART"].dt == before["p5"]["m-4"]["DTSTART"].dt

    person = _participant(browser, served, slug, tokens["p1"], viewport=PHONE)
    person.goto(f"{served.url}/e/{slug}/me")
    person.get_by_role("link", name="Give feedback on the meeting with Person 2").click()
    person.get_by_label("5 – very useful").check()
    person.get_by_label("Yes").check()
    person.get_by_label("A joint project").check()
    person.get_by_role("button", name="Send my answers").click()
    person.get_by_text("Your feedback is sent. Thank you!").wait_for()
    _fits(person, screenshots, "agenda-after-re-plan")

    staff.goto(f"{served.url}/organiser/e/{slug}/report")
    figures = staff.locator("#figures").inner_text().replace("\n", " ")
    # Version 2 plans m-1, m-2 (the past), m-4 and Person 5 & Person 1.
    assert "4 meetings planned" in figures
    assert "1 no-shows" in figures
    sector = staff.locator("#by-sector").inner_text()
    assert "Energy" in sector
    _fits(staff, screenshots, "report-by-sector")
    with _db(served) as db:
        assert [(r.uid, r.outcome.value) for r in db.scalars(select(MeetingAttendance))] == [
            ("m-2", "no_show"),
            ("m-1", "held"),
        ]
        assert db.scalar(select(func.count()).select_from(MeetingFeedback)) == 1
