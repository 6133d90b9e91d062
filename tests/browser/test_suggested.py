""" "Suggested for you" in a real browser: on a phone, reasons in words, a one-click wish by
keyboard, back on the same page with the suggestion gone (issue 15). Screenshots in
artifacts/screenshots/ (`p15-...`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from matchmaking.platform.models import Organisation, Wish
from tests.browser.conftest import Served
from tests.browser.test_pages_for_people import FITS, PHONE, _db, _participant, _setup
from tests.browser.test_scenario import _shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_suggestion_is_one_keyboard_press_from_a_wish_on_a_phone(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=12)
    slug = built.event.slug
    with _db(served) as db:
        organisations = {o.key: o for o in db.scalars(select(Organisation))}
        for organisation in organisations.values():
            organisation.sectors = []
        organisations["o1"].seeks = ["partners for battery recycling"]
        organisations["o7"].offers = ["recycling of used batteries"]
        db.commit()
    page = _participant(browser, served, slug, tokens["p1"], viewport=PHONE)
    page.goto(f"{served.url}/e/{slug}/directory")

    section = page.locator("section.suggested")
    assert section.get_by_role("heading", name="Suggested for you").is_visible()
    card = section.locator("li.card").first
    assert card.get_attribute("id") == "suggested-p7"
    assert (
        "offers recycling of used batteries, which you seek (partners for battery recycling)"
        in card.inner_text()
    )
    assert page.evaluate(FITS), "the suggestions are wider than the phone"
    _shot(page, screenshots, "p15-suggested-directory-phone")

    button = card.get_by_role("button", name=re.compile("Ask to meet"))
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"sent=p7"))
    assert "Your wish was sent." in page.inner_text("main")
    assert page.locator("#suggested-p7").count() == 0
    with _db(served) as db:
        wish = db.scalar(select(Wish))
        assert wish is not None
        assert wish.recipient.key == "p7"
        assert wish.priority == 2

    page.goto(f"{served.url}/e/{slug}/inbox")
    _shot(page, screenshots, "p15-inbox-phone")
    assert page.locator("section.suggested").count() == 0  # nobody else fits
