"""The organiser imports a workbook in a real browser: template, refused file with the
problems by row, preview, confirmation; the directory then shows the cooperation profiles.
Desktop and a 390 px phone; the keyboard reaches every step. Screenshots in
artifacts/screenshots/import-*.png."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaking.platform.models import Participant
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from tests.browser.conftest import Served
from tests.browser.test_scenario import _prepare, _shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEADER = ["email", "name", "organisation", "organisation_kind", "country", "offers", "seeks",
          "delegation", "job_title"]  # fmt: skip
GOOD = [
    ["ana@example.org", "Ana Côté", "Énergie Québec", "cluster", "CA",
     "battery recycling services; grid storage pilots", "partners for green hydrogen",
     "Canada", "Cluster manager"],
    ["bo@example.org", "Bo Nowak", "Baltic Grid", "company", "PL", "smart grid pilots",
     "battery recycling services", "EU", "CTO"],
]  # fmt: skip


def _workbook(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("participants")
    for row in [HEADER, *rows]:
        sheet.append(row)
    wishes = book.create_sheet("wishes")
    wishes.append(["from", "to", "priority"])
    wishes.append(["ana@example.org", "bo@example.org", 1])
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def _count(served: Served) -> int:
    with Session(served.app.state.engine) as db:
        return db.scalar(select(func.count()).select_from(Participant)) or 0


def test_organiser_imports_a_workbook_from_the_pages(
    served: Served, browser: Any, screenshots: Path, tmp_path: Path
) -> None:
    data = _prepare(served)
    slug = data["slug"]
    before = _count(served)
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{served.url}/organiser/login")
    page.get_by_label("API token").fill(data["organiser"])
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{served.url}/organiser/e/{slug}")
    page.get_by_role("link", name="Import participants and wishes from a spreadsheet").click()
    page.get_by_role("heading", name="Import participants and wishes").wait_for()
    _shot(page, screenshots, "import-01-form")

    with page.expect_download() as download:
        page.get_by_role("link", name="workbook (.xlsx)").click()
    template = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert [c.value for c in template["participants"][1]][:3] == ["email", "name", "organisation"]

    # A workbook with bad rows: every problem by row and column, nothing stored.
    bad = [list(GOOD[0]), list(GOOD[1]), [None] * 9, ["not-an-email", "Cy", "X", None, "Canadia",
           None, None, None, "=HYPERLINK(\"http://evil\")"]]  # fmt: skip
    page.get_by_label("Workbook or participants CSV").set_input_files(
        str(_workbook(tmp_path / "bad.xlsx", bad))
    )
    page.get_by_role("button", name="Preview the import").click()
    page.get_by_role("heading", name="bad.xlsx was not imported").wait_for()
    problems = page.locator("section.problems table").inner_text()
    assert "not-an-email" in problems
    assert "Canadia" in problems
    assert "is a formula" in problems
    assert _count(served) == before
    _shot(page, screenshots, "import-02-problems")

    # The good workbook: a preview, then the confirmation, all with the keyboard.
    page.get_by_label("Workbook or participants CSV").set_input_files(
        str(_workbook(tmp_path / "people.xlsx", GOOD))
    )
    page.get_by_label("Wishes CSV (only with a participants CSV)").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "preview-import"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Preview of people.xlsx").wait_for()
    assert page.locator("#counts-participants td").all_inner_texts() == ["2", "0", "0"]
    assert "Ana Côté" in page.locator("#to-create").inner_text()
    assert _count(served) == before
    _shot(page, screenshots, "import-03-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the preview is {width} px wide on a phone"
    _shot(page, screenshots, "import-04-preview-phone")
    page.get_by_role("button", name="Confirm the import").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Imported people.xlsx: 2 new and 0 updated participants").wait_for()
    assert _count(served) == before + 2
    _shot(page, screenshots, "import-05-imported-phone")
    context.close()

    # Bo, imported, opens the directory on a phone and sees Ana's cooperation profile.
    token = new_token(PARTICIPANT_TOKEN_PREFIX)
    with Session(served.app.state.engine) as db:
        people = {p.email: p for p in db.scalars(select(Participant))}
        people["bo@example.org"].access_token_hash = hash_token(token)
        people["ana@example.org"].listed = True
        db.commit()
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.goto(f"{served.url}/e/{slug}/login?token={token}")
    page.goto(f"{served.url}/e/{slug}/directory?q=Ana")
    card = page.locator(".card", has_text="Ana Côté")
    profile = card.locator("dl.cooperation").inner_text()
    assert "Canada" in profile
    assert "battery recycling services; grid storage pilots" in profile
    assert "partners for green hydrogen" in profile
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, screenshots, "import-06-directory-phone")
    phone.close()
