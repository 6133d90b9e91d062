"""The whole event in a real browser: register, wish, accept, solve, publish, agenda, .ics.

Every page is saved as a screenshot in artifacts/screenshots/ (a CI build artifact).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject
from sqlalchemy.orm import Session

from matchmaking.platform.models import ApiToken, EventRole, EventRoleName, EventStatus, Organiser
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from tests.browser.conftest import Served
from tests.calendars.builders import build_event

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _prepare(served: Served) -> dict[str, str]:
    """An open event with four listed people; personal links for p2 and an organiser token."""
    with Session(served.app.state.engine, expire_on_commit=False) as db:
        built = build_event(db, participants=4)
        built.event.status = EventStatus.open
        organiser = Organiser(email="owner@example.org", name="Olga Owner")
        organiser_token = new_token("mmo")
        person_token = new_token(PARTICIPANT_TOKEN_PREFIX)
        built.participants["p2"].access_token_hash = hash_token(person_token)
        db.add_all(
            [
                organiser,
                ApiToken(organiser=organiser, token_hash=hash_token(organiser_token), prefix="x"),
                EventRole(event=built.event, organiser=organiser, role=EventRoleName.owner),
            ]
        )
        db.commit()
        return {"slug": built.event.slug, "organiser": organiser_token, "p2": person_token}


UNLABELLED_CONTROLS = """() => Array.from(
  document.querySelectorAll('input:not([type=hidden]), select, textarea, button')
).filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
  && !(el.tagName === 'BUTTON' && el.textContent.trim())).map(el => el.outerHTML)"""


def _shot(page: Any, folder: Path, name: str, *, full_page: bool = True) -> None:
    """Save the page as a screenshot, and check that every control has a name a screen
    reader announces."""
    assert page.evaluate(UNLABELLED_CONTROLS) == [], f"unlabelled controls on {name}"
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def _register(page: Any, served: Served, slug: str, shots: Path) -> str:
    page.goto(f"{served.url}/e/{slug}")
    _shot(page, shots, "01-event-page")
    page.keyboard.press("Tab")  # keyboard users reach the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("link", name="Register").click()
    # First an incomplete form: the errors name the fields and keep what was typed.
    page.get_by_label("Organisation name").fill("Nordic Quantum AB")
    page.get_by_label("Your name").fill("Ann Åkesson")
    page.get_by_label("E-mail address").fill("ann@")
    page.get_by_role("button", name="Register").click()
    assert page.locator("#email-error").is_visible()
    assert page.get_by_label("Organisation name").input_value() == "Nordic Quantum AB"
    _shot(page, shots, "02-registration-errors")

    page.get_by_label("Kind of organisation").select_option("company")
    page.get_by_label("Country (two-letter code)").fill("SE")
    page.get_by_label("Sectors").fill("Quantum, Photonics")
    page.get_by_label("Quantum Technology").check()
    page.get_by_label("E-mail address").fill("ann@example.org")
    page.get_by_label("On site at").check()
    page.get_by_label("I agree that the organisers use my data").check()
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="You are registered, Ann Åkesson").wait_for()
    _shot(page, shots, "03-registration-confirmed")
    link = page.locator("#personal-link").get_attribute("href")
    assert link
    assert link.startswith(f"{served.url}/e/{slug}/login?token=mmp_")
    return link


def _send_wishes(page: Any, served: Served, slug: str, shots: Path) -> None:
    page.goto(f"{served.url}/e/{slug}/directory")
    _shot(page, shots, "04-directory")
    for person, priority in (("p2", "1"), ("p3", "2")):
        card = page.locator(f"#person-{person}")
        card.get_by_label("Priority").select_option(priority)
        card.get_by_role("button", name="Ask to meet").click()
        page.get_by_text("Your wish was sent.").wait_for()
    page.goto(f"{served.url}/e/{slug}/wishes")
    assert page.locator("td .status-requested").count() == 2
    _shot(page, shots, "05-my-wishes")


def _accept(browser: Any, served: Served, slug: str, token: str, shots: Path) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served.url}/e/{slug}/login?token={token}")
    page.get_by_role("link", name="Inbox", exact=True).click()
    _shot(page, shots, "06-inbox")
    page.get_by_role("button", name="Accept the meeting with Ann Åkesson").click()
    page.locator(".status-accepted").first.wait_for()
    context.close()


def _solve_and_publish(browser: Any, served: Served, slug: str, token: str, shots: Path) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served.url}/organiser/login")
    _shot(page, shots, "07-organiser-login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="EU–Canada Cluster Matchmaking").click()
    page.get_by_label("Time limit (seconds)").fill("5")
    page.get_by_role("button", name="Solve now").click()
    _shot(page, shots, "08-dashboard-solving")
    # The progress script reloads the page when the job has finished.
    page.get_by_role("link", name="Review version 1").wait_for(timeout=60_000)
    _shot(page, shots, "09-dashboard-solved")
    page.get_by_role("link", name="Review version 1").click()
    page.get_by_role("heading", name="Schedule version 1").wait_for()
    _shot(page, shots, "10-version-review")
    # The timetable shows a session at a time; the search finds Ann (accents ignored).
    page.get_by_label("Find a participant").fill("akesson")
    page.get_by_role("button", name="Show").click()
    assert "Ann Åkesson" in page.locator("table.results").inner_text()
    page.get_by_role("button", name="Publish version 1").click()
    page.get_by_text("Version 1 is published.").wait_for()
    _shot(page, shots, "11-published")
    context.close()


def _agenda_and_calendar(page: Any, served: Served, slug: str, shots: Path) -> None:
    page.goto(f"{served.url}/e/{slug}/me")
    agenda = page.locator("ol.agenda")
    agenda.wait_for()
    assert "Person 2" in agenda.inner_text()
    assert "Person 3" not in agenda.inner_text()  # p3 never answered
    _shot(page, shots, "12-agenda")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, shots, "13-agenda-phone")
    page.emulate_media(media="print")
    _shot(page, shots, "14-agenda-print")
    page.emulate_media(media="screen")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download calendar (.ics)").click()
    body = Path(download_info.value.path()).read_bytes()
    calendar = icalendar.Calendar.from_ical(body)
    (meeting,) = calendar.walk("VEVENT")
    assert "Person 2" in str(meeting["SUMMARY"])
    assert meeting["STATUS"] == "CONFIRMED"
    assert meeting["DTSTART"].params["TZID"] == "Europe/Berlin"
    parsed = vobject.readOne(body.decode("utf-8"))
    assert parsed.vevent.uid.value == str(meeting["UID"])


def test_participant_registers_wishes_get_accepted_organiser_solves_and_publishes(
    served: Served, browser: Any, screenshots: Path
) -> None:
    data = _prepare(served)
    slug = data["slug"]
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A page whose script failed or that broke the Content-Security-Policy says so here
    # (the 422 of the form with errors is logged too, and is expected).
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )

    link = _register(page, served, slug, screenshots)
    page.goto(link)
    assert re.search(rf"/e/{slug}/me$", page.url)
    _send_wishes(page, served, slug, screenshots)
    _accept(browser, served, slug, data["p2"], screenshots)
    _solve_and_publish(browser, served, slug, data["organiser"], screenshots)
    _agenda_and_calendar(page, served, slug, screenshots)
    context.close()
    # No script errors and no Content-Security-Policy violations on any page.
    assert errors == []
