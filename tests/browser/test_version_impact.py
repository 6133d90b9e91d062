"""The version page before publishing, in Chromium: what a new version does to people, and
the confirmation it asks for when meetings are cancelled (also on a 390 px phone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from matchmaking.platform.models import (
    ApiToken,
    EventRole,
    EventRoleName,
    Organiser,
    ScheduleVersion,
)
from matchmaking.platform.security import hash_token, new_token
from tests.browser.conftest import Served
from tests.calendars.builders import build_event
from tests.pages.test_version_impact import two_versions

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _prepare(served: Served) -> tuple[str, str, dict[str, str]]:
    with Session(served.app.state.engine, expire_on_commit=False) as db:
        built = build_event(db, participants=6)
        organiser = Organiser(email="owner@example.org", name="Olga Owner")
        token = new_token("mmo")
        db.add_all(
            [
                organiser,
                ApiToken(organiser=organiser, token_hash=hash_token(token), prefix="x"),
                EventRole(event=built.event, organiser=organiser, role=EventRoleName.owner),
            ]
        )
        two_versions(db, built)
        names = {key: p.name for key, p in built.participants.items()}
        return built.event.slug, token, names


def test_the_version_page_shows_the_impact_and_asks_to_confirm_cancelled_meetings(
    served: Served, browser: Any, screenshots: Path
) -> None:
    slug, token, names = _prepare(served)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served.url}/organiser/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{served.url}/organiser/e/{slug}/versions/2")

    impact = page.locator("#impact")
    impact.get_by_role("heading", name="What publishing does to people").wait_for()
    text = impact.inner_text()
    assert "1 meeting moved, 1 cancelled, 1 added" in text
    assert f"{names['p3']} (" in text
    assert "Table 1" in text
    changes = impact.locator("table.impact-changes")
    assert "cancelled" in changes.locator("tr", has_text=names["p3"]).inner_text()
    worse = impact.locator("ul.impact-goals li", has_text="Breaks between meetings")
    assert "(worse)" in worse.inner_text()
    assert f"{names['p3']}" in impact.locator("details.impact-people").inner_text()
    # On a phone everything in it fits the screen: nothing cut off, no sideways scrolling.
    widest = impact.evaluate(
        "el => Math.max(...[...el.querySelectorAll('*')].map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= 390
    impact.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "20-version-page-phone.png"), full_page=True)
    impact.screenshot(path=str(screenshots / "20-version-impact-phone.png"))
    page.locator("#publish-h").locator("..").screenshot(
        path=str(screenshots / "20-version-publish-phone.png")
    )

    # Publishing without the tick does not go through: the box is required.
    publish = page.get_by_role("button", name="Publish version 2")
    publish.click()
    assert page.url.endswith("/versions/2")
    assert page.evaluate("document.getElementById('confirm-cancelled').validity.valueMissing")
    with Session(served.app.state.engine) as db:
        assert db.get_one(ScheduleVersion, 2).published_at is None

    # With the keyboard alone: tick the box, then publish.
    page.get_by_label("I have read who loses a meeting").focus()
    page.keyboard.press("Space")
    if page.get_by_label("Publish anyway").count():
        page.get_by_label("Publish anyway").check()
    publish.focus()
    page.keyboard.press("Enter")
    page.get_by_text("Version 2 is published.").wait_for()
    page.screenshot(path=str(screenshots / "21-version-published-phone.png"), full_page=True)
    with Session(served.app.state.engine) as db:
        assert db.get_one(ScheduleVersion, 2).published_at is not None
    context.close()
    assert errors == []
