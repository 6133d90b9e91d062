"""Calendar links in a real browser, on a 390 px phone and with the keyboard alone: subscribing
again keeps the earlier link working; replacing the links is asked for, then done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from matchmaking.platform.models import EventStatus
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from tests.browser.conftest import Served
from tests.browser.test_scenario import _shot
from tests.calendars.builders import add_version, at, build_event

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


def _published_event(served: Served) -> tuple[str, str]:
    """An event with two published meetings of p1, and p1's personal link token."""
    with Session(served.app.state.engine, expire_on_commit=False) as db:
        built = build_event(db, participants=4)
        built.event.status = EventStatus.published
        add_version(
            db,
            built,
            [("eu-w1", "s1", "t1", "p1", "p2"), ("eu-w2", "s2", "t2", "p1", "p3")],
            published_at=at(20),
        )
        token = new_token(PARTICIPANT_TOKEN_PREFIX)
        built.participants["p1"].access_token_hash = hash_token(token)
        db.commit()
        return built.event.slug, token


def _press(page: Any, role: str, name: str) -> None:
    """Reach a control with the keyboard focus and press Enter on it."""
    page.get_by_role(role, name=name).focus()
    page.keyboard.press("Enter")


def _fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def _subscribe(page: Any, served: Served, slug: str) -> str:
    page.goto(f"{served.url}/e/{slug}/me")
    _press(page, "button", "Subscribe in your calendar app")
    page.get_by_role("heading", name="Subscribe to your agenda").wait_for()
    url = page.get_by_label("Address for apps that ask for a URL").input_value()
    assert url.startswith(f"{served.url}/calendars/participants/mmc_")
    webcal = page.get_by_role("link", name="Subscribe (webcal)").get_attribute("href")
    assert webcal == "webcal://" + url.split("://", 1)[1]
    return str(url)


def test_a_participant_subscribes_twice_then_replaces_the_links_on_a_phone_by_keyboard(
    served: Served, browser: Any, screenshots: Path
) -> None:
    slug, token = _published_event(served)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{served.url}/e/{slug}/login?token={token}")

    first = _subscribe(page, served, slug)
    second = _subscribe(page, served, slug)
    assert first != second
    assert page.get_by_text("Links you made before keep working").is_visible()
    _fits_the_phone(page)
    _shot(page, screenshots, "calendar-01-second-link-phone")
    for url in (first, second):
        feed = page.request.get(url)
        assert feed.status == 200
        assert feed.body().count(b"BEGIN:VEVENT") == 2

    _press(page, "link", "Replace my calendar link — the old ones stop working")
    page.get_by_role("heading", name="Replace my calendar link").wait_for()
    assert page.get_by_text("You have 2 working calendar links").is_visible()
    _fits_the_phone(page)
    _shot(page, screenshots, "calendar-02-replace-confirmation-phone")
    button = "Replace my calendar link — the old one stops working"
    # Unticked, the browser keeps the form on the page: nothing is replaced.
    _press(page, "button", button)
    assert page.get_by_role("heading", name="Replace my calendar link").is_visible()
    assert page.request.get(first).status == 200
    page.get_by_label("I understand that my earlier calendar links stop working").focus()
    page.keyboard.press("Space")
    _press(page, "button", button)
    page.get_by_text("2 earlier links stopped working just now").wait_for()
    newest = page.get_by_label("Address for apps that ask for a URL").input_value()
    _fits_the_phone(page)
    _shot(page, screenshots, "calendar-03-replaced-phone")

    assert [page.request.get(url).status for url in (first, second)] == [404, 404]
    assert page.request.get(newest).status == 200
    context.close()
