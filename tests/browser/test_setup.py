"""An organiser sets up an event in a real browser, from an empty database and without the
API: create the event (a refused form first), generate a session's slots with a preview, add
ten tables in one step, open registration. Desktop and a 390 px phone; the keyboard reaches
the buttons. Screenshots in artifacts/screenshots/setup-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaking.platform.models import ApiToken, Event, EventStatus, Location, Organiser, Slot
from matchmaking.platform.security import hash_token, new_token
from tests.browser.conftest import Served
from tests.browser.test_scenario import _shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _organiser(served: Served) -> str:
    """An organiser account with no event yet (as `matchmaking organiser create` makes it)."""
    token = new_token("mmo")
    with Session(served.app.state.engine) as db:
        person = Organiser(email="olga@example.org", name="Olga Owner")
        db.add_all([person, ApiToken(organiser=person, token_hash=hash_token(token), prefix="x")])
        db.commit()
    return token


def _count(served: Served, model: Any) -> int:
    with Session(served.app.state.engine) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def _fits_a_phone(page: Any, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name} is {width} px wide on a phone"


def test_organiser_sets_up_an_event_in_the_pages(
    served: Served, browser: Any, screenshots: Path
) -> None:
    token = _organiser(served)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served.url}/organiser/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Create an event").click()

    # A refused form first: each problem next to its field, what was typed kept.
    page.get_by_label("Name of the event").fill("Nordic Cluster Days")
    page.get_by_label("Time zone").fill("Copenhagen")
    page.get_by_label("Venue", exact=True).fill("Bella Center, Copenhagen")
    page.get_by_label("Hybrid: on site and online participants").check()
    page.get_by_label("Focus areas").fill("Green Energy\nLife Science")
    page.get_by_role("button", name="Create the event").click()
    assert page.locator("#timezone-error").is_visible()
    assert page.get_by_label("Venue", exact=True).input_value() == "Bella Center, Copenhagen"
    assert _count(served, Event) == 0
    _shot(page, screenshots, "setup-01-create-refused")
    page.get_by_role("link", name="IANA time zone").click()  # the summary leads to the field
    assert page.evaluate("document.activeElement.id") == "timezone"
    page.keyboard.press("Control+A")
    page.keyboard.type("Europe/Copenhagen")
    page.get_by_role("button", name="Create the event").click()
    page.get_by_role("heading", name="Set up Nordic Cluster Days").wait_for()
    missing = page.locator("#missing").inner_text()
    assert "session with slots" in missing
    assert "location" in missing
    _shot(page, screenshots, "setup-02-overview-missing")

    # The slot generator: a preview stores nothing, then the slots are saved.
    page.get_by_role("link", name="Sessions and slots").first.click()
    page.get_by_label("Name of the session").fill("Day 1 morning")
    page.get_by_label(re.compile(r"^Day\b")).fill("2030-09-10")
    page.get_by_label("First meeting starts").fill("09:00")
    page.get_by_label("Last meeting ends by").fill("12:00")
    page.get_by_label("Meeting length (minutes)").fill("25")
    page.get_by_label("Pause after each meeting (minutes)").fill("5")
    page.get_by_label("Pause after each meeting (minutes)").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "preview-slots"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Preview: 6 slots").wait_for()
    assert "11:30–11:55" in page.locator("#preview").inner_text()
    assert _count(served, Slot) == 0
    _shot(page, screenshots, "setup-03-slots-preview")
    page.get_by_role("button", name="Save these 6 slots").click()
    page.get_by_text("6 slots are saved in Day 1 morning.").wait_for()
    assert _count(served, Slot) == 6
    _shot(page, screenshots, "setup-04-slots-saved")

    # Ten tables in one step.
    page.get_by_role("link", name="Tables and rooms").click()
    page.get_by_label("Name before the number").fill("Table")
    page.get_by_label("From number").fill("1")
    page.get_by_label("To number").fill("10")
    page.get_by_role("button", name="Add the tables").click()
    page.get_by_text("10 tables are added: Table 1 to Table 10.").wait_for()
    assert _count(served, Location) == 10
    assert page.get_by_role("cell", name="Table 10", exact=True).is_visible()
    _shot(page, screenshots, "setup-05-tables")

    # A refused room: the error at its field, the other forms untouched.
    page.get_by_label("Name of the room").fill("Room Øresund")
    page.get_by_label("Meetings it holds at once").fill("0")
    page.get_by_role("button", name="Add the room").click()
    assert "between 1 and 100000" in page.locator("#room_capacity-error").inner_text()
    assert _count(served, Location) == 10
    _shot(page, screenshots, "setup-05b-room-refused")

    # Registration opens once nothing is missing.
    page.get_by_role("link", name="Overview").click()
    assert page.locator("#ready").is_visible()
    page.get_by_role("button", name="Open registration").click()
    page.get_by_text("Registration is open: participants can register now.").wait_for()
    with Session(served.app.state.engine) as db:
        event = db.scalars(select(Event)).one()
        assert event.status is EventStatus.open
        assert event.slug == "nordic-cluster-days"
    _shot(page, screenshots, "setup-06-registration-open")

    # A colleague without an account joins the team as staff, with a token shown once.
    page.get_by_role("navigation", name="Event set-up").get_by_role("link", name="Team").click()
    page.get_by_label("E-mail address").fill("nina@example.org")
    page.get_by_label("Name", exact=True).fill("Nina Nilsen")
    page.get_by_label("Staff: sets up and runs the event").check()
    page.get_by_role("button", name="Add to the team").click()
    page.get_by_role("heading", name="Sign-in token for Nina Nilsen").wait_for()
    assert page.locator("code.token").inner_text().startswith("mmo_")
    _shot(page, screenshots, "setup-06b-team-token")

    # The same pages on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    for name, path in (("overview", "setup"), ("sessions", "sessions"), ("rules", "rules")):
        page.goto(f"{served.url}/organiser/e/nordic-cluster-days/{path}")
        _fits_a_phone(page, name)
    _shot(page, screenshots, "setup-07-rules-phone")
    page.goto(f"{served.url}/organiser/e/nordic-cluster-days/sessions")
    _shot(page, screenshots, "setup-08-sessions-phone")
    context.close()
