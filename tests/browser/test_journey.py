"""The organiser's whole journey in a real browser, from an empty database, through the pages.

No API call and no JSON file: create the event → generate slots (with a preview) → add tables
→ import a workbook made here with openpyxl (the import page's template columns) → open
registration → two participants register with the form, one asks the other to meet from the
directory, the other accepts in the inbox → close registration → solve from the dashboard →
move a meeting on the hand-edit page and pin it → re-solve around the pins → publish →
write to one delegation on the messages page and send.

One step is not a page: an organiser account must exist before anyone can sign in, and the
first one is made on the command line. The test runs `matchmaking organiser create` in
process (typer's CliRunner on the served database) and signs in with the token it prints.

Screenshots of every step go to artifacts/journey/ (a 390 px phone for the import preview,
the registration and the directory; a desktop for the rest). The keyboard alone signs in and
registers (Tab reaches the submit button, Enter submits).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from matchmaking.bundle.sheets import PARTICIPANT_COLUMNS, WISH_COLUMNS
from matchmaking.commands.cli import app as cli_app
from matchmaking.platform.models import (
    Event,
    EventStatus,
    Meeting,
    OutboxMail,
    Participant,
    ScheduleVersion,
    Wish,
    WishStatus,
)
from tests.browser.conftest import Served
from tests.browser.test_scenario import UNLABELLED_CONTROLS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent.parent / "artifacts" / "journey"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SLUG = "nordic-cluster-days"

#: The imported people: (e-mail, name, organisation, kind, country, delegation).
PEOPLE = [
    ("ana@example.org", "Ana Côté", "Énergie Québec", "cluster", "CA", "Canada"),
    ("bo@example.org", "Bo Nowak", "Baltic Grid", "company", "PL", "EU"),
    ("chloe@example.org", "Chloé Tremblay", "Hydro Nord", "company", "CA", "Canada"),
    ("dara@example.org", "Dara Møller", "Energy Cluster Denmark", "cluster", "DK", "EU"),
    ("emil@example.org", "Emil Virtanen", "Helsinki Heat", "company", "FI", "EU"),
    ("fay@example.org", "Fay Okafor", "Prairie Power", "company", "CA", "Canada"),
]
#: Accepted wishes of the workbook: (from, to, priority).
WISHES = [
    ("ana@example.org", "bo@example.org", 1),
    ("ana@example.org", "dara@example.org", 2),
    ("chloe@example.org", "emil@example.org", 1),
    ("fay@example.org", "bo@example.org", 1),
    ("chloe@example.org", "dara@example.org", 2),
]


def _shot(page: Any, name: str) -> None:
    """Save the whole page and check that every control has a name a screen reader reads."""
    assert page.evaluate(UNLABELLED_CONTROLS) == [], f"unlabelled controls on {name}"
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} is {scroll} px wide on a {width} px screen"
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _widest(page: Any, selector: str) -> float:
    """The right edge of the furthest-reaching element matched by `selector` or inside one,
    in CSS pixels."""
    return float(
        page.evaluate(
            "s => Math.max(...[...document.querySelectorAll(s)]"
            ".map(e => e.getBoundingClientRect().right))",
            f"{selector}, {selector} *",
        )
    )


def _workbook(path: Path) -> Path:
    """The workbook an organiser fills in: the template's columns, six people, five wishes."""
    book = Workbook()
    book.remove(book.active)
    people = book.create_sheet("participants")
    people.append(list(PARTICIPANT_COLUMNS))
    for email, name, organisation, kind, country, delegation in PEOPLE:
        row = dict.fromkeys(PARTICIPANT_COLUMNS, "")
        row.update(email=email, name=name, organisation=organisation, country=country,
                   organisation_kind=kind, delegation=delegation, attendance="onsite",
                   offers="grid storage pilots", seeks="partners for green hydrogen")  # fmt: skip
        people.append([row[c] for c in PARTICIPANT_COLUMNS])
    wishes = book.create_sheet("wishes")
    wishes.append(list(WISH_COLUMNS))
    for sender, recipient, priority in WISHES:
        row = dict.fromkeys(WISH_COLUMNS, "")
        row.update({"from": sender, "to": recipient, "priority": priority, "status": "accepted"})
        wishes.append([row[c] for c in WISH_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def _first_organiser(served: Served, monkeypatch: pytest.MonkeyPatch) -> str:
    """`matchmaking organiser create`, in process, on the served database: its API token."""
    from matchmaking.platform.db import get_engine, get_sessionmaker
    from matchmaking.platform.settings import get_settings

    url = served.app.state.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", url)

    def forget() -> None:
        if get_engine.cache_info().currsize:
            get_engine().dispose()
        get_settings.cache_clear()
        get_engine.cache_clear()
        get_sessionmaker.cache_clear()

    forget()
    try:
        result = CliRunner().invoke(
            cli_app, ["organiser", "create", "olga@example.org", "--name", "Olga Owner"]
        )
    finally:
        forget()
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("mmo_")
    return token


def _db(served: Served) -> Session:
    return Session(served.app.state.engine)


def _sign_in(page: Any, served: Served, token: str) -> None:
    """With the keyboard alone: the token, Tab to the button, Enter."""
    page.goto(f"{served.url}/organiser/login")
    page.get_by_label("API token").fill(token)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    _shot(page, "01-sign-in")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Create an event").wait_for()


def _create_event(page: Any) -> None:
    page.get_by_role("link", name="Create an event").click()
    page.get_by_label("Name of the event").fill("Nordic Cluster Days")
    page.get_by_label("Time zone").fill("Europe/Copenhagen")
    page.get_by_label("Venue", exact=True).fill("Bella Center, Copenhagen")
    page.get_by_label("Focus areas").fill("Green Energy\nLife Science")
    _shot(page, "02-create-event")
    page.get_by_role("button", name="Create the event").click()
    page.get_by_role("heading", name="Set up Nordic Cluster Days").wait_for()
    _shot(page, "03-event-created")


def _slots_and_tables(page: Any, served: Served) -> None:
    page.get_by_role("link", name="Sessions and slots").first.click()
    page.get_by_label("Name of the session").fill("Day 1 morning")
    page.get_by_label(re.compile(r"^Day\b")).fill("2030-09-10")
    page.get_by_label("First meeting starts").fill("09:00")
    page.get_by_label("Last meeting ends by").fill("11:00")
    page.get_by_label("Meeting length (minutes)").fill("25")
    page.get_by_label("Pause after each meeting (minutes)").fill("5")
    page.get_by_role("button", name="Preview the slots").click()
    page.get_by_role("heading", name="Preview: 4 slots").wait_for()
    assert "10:30–10:55" in page.locator("#preview").inner_text()
    _shot(page, "04-slots-preview")
    page.get_by_role("button", name="Save these 4 slots").click()
    page.get_by_text("4 slots are saved in Day 1 morning.").wait_for()
    _shot(page, "05-slots-saved")

    page.get_by_role("link", name="Tables and rooms").click()
    page.get_by_label("Name before the number").fill("Table")
    page.get_by_label("From number").fill("1")
    page.get_by_label("To number").fill("4")
    page.get_by_role("button", name="Add the tables").click()
    page.get_by_text("4 tables are added: Table 1 to Table 4.").wait_for()
    _shot(page, "06-tables")


def _import(page: Any, served: Served, tmp_path: Path) -> None:
    page.goto(f"{served.url}/organiser/e/{SLUG}")
    page.get_by_role("link", name="Import participants and wishes from a spreadsheet").click()
    page.get_by_label("Workbook or participants CSV").set_input_files(
        str(_workbook(tmp_path / "nordic.xlsx"))
    )
    page.get_by_role("button", name="Preview the import").click()
    page.get_by_role("heading", name="Preview of nordic.xlsx").wait_for()
    assert page.locator("#counts-participants td").all_inner_texts() == ["6", "0", "0"]
    assert "Chloé Tremblay" in page.locator("#to-create").inner_text()
    page.set_viewport_size(PHONE)
    assert _widest(page, "main") <= 390  # nothing cut off: no table scrolls sideways either
    _shot(page, "07-import-preview-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Confirm the import").click()
    page.get_by_text("Imported nordic.xlsx: 6 new and 0 updated participants").wait_for()
    _shot(page, "08-imported")
    with _db(served) as db:
        assert db.scalar(select(func.count()).select_from(Participant)) == 6
        accepted = select(func.count()).select_from(Wish).where(Wish.status == WishStatus.accepted)
        assert db.scalar(accepted) == len(WISHES)


def _open_registration(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/organiser/e/{SLUG}/setup")
    page.get_by_role("button", name="Open registration").click()
    page.get_by_text("Registration is open: participants can register now.").wait_for()
    _shot(page, "09-registration-open")


def _register(
    browser: Any, served: Served, name: str, email: str, organisation: str, shot: str
) -> tuple[Any, Any]:
    """A participant registers on a phone; the form is sent with the keyboard (Enter)."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{served.url}/e/{SLUG}")
    page.get_by_role("link", name="Register").first.click()
    page.get_by_label("Organisation name").fill(organisation)
    page.get_by_label("Kind of organisation").select_option("company")
    page.get_by_label("Country (two-letter code)").fill("NO")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Green Energy").check()
    page.get_by_label("Day 1 morning").check()
    page.get_by_label("List me in the participant directory").check()
    consent = page.get_by_label("I agree that the organisers use my data")
    consent.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Register"
    _shot(page, shot)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=f"You are registered, {name}").wait_for()
    link = page.locator("#personal-link").get_attribute("href")
    assert link
    page.goto(link)
    return context, page


def _wish_and_accept(browser: Any, served: Served) -> None:
    ben_context, ben = _register(
        browser, served, "Ben Berg", "ben@example.org", "Fjord Hydrogen AS", "10-register-phone"
    )
    ann_context, ann = _register(
        browser, served, "Ann Aas", "ann@example.org", "Oslo Batteries AS", "10b-register-ann"
    )
    ann.goto(f"{served.url}/e/{SLUG}/directory?q=Ben")
    card = ann.locator(".card", has_text="Ben Berg")
    card.get_by_label("Priority").select_option("1")
    _shot(ann, "11-directory-phone")
    card.get_by_role("button", name="Ask to meet").click()
    ann.get_by_text("Your wish was sent.").wait_for()
    ann.goto(f"{served.url}/e/{SLUG}/wishes")
    assert "Ben Berg" in ann.locator("main").inner_text()
    assert ann.locator("td .status-requested").count() == 1
    _shot(ann, "12-my-wishes-phone")

    ben.set_viewport_size(DESKTOP)
    ben.get_by_role("link", name="Inbox", exact=True).click()
    ben.get_by_role("button", name="Accept the meeting with Ann Aas").click()
    ben.locator(".status-accepted").first.wait_for()
    _shot(ben, "13-inbox-accepted")
    ann_context.close()
    ben_context.close()
    with _db(served) as db:
        people = {p.name: p.id for p in db.scalars(select(Participant))}
        wish = db.scalars(select(Wish).where(Wish.sender_id == people["Ann Aas"])).one()
        assert wish.status is WishStatus.accepted


def _close_and_solve(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/organiser/e/{SLUG}/setup")
    page.get_by_role("button", name="Close registration").click()
    page.get_by_role("button", name="Open registration").wait_for()
    _shot(page, "14-registration-closed")
    with _db(served) as db:
        assert db.scalars(select(Event)).one().status is not EventStatus.open

    page.goto(f"{served.url}/organiser/e/{SLUG}")
    page.get_by_label("Time limit (seconds)").fill("5")
    page.get_by_role("button", name="Solve now").click()
    page.get_by_role("link", name="Review version 1").wait_for(timeout=60_000)
    _shot(page, "15-solved")
    page.get_by_role("link", name="Review version 1").click()
    page.get_by_role("heading", name="Schedule version 1").wait_for()
    _shot(page, "16-version-1")
    with _db(served) as db:
        version = db.scalars(select(ScheduleVersion).where(ScheduleVersion.number == 1)).one()
        assert db.scalar(select(func.count()).select_from(Meeting).where(
            Meeting.version_id == version.id)) >= 5  # fmt: skip


def _pair(db: Session, version_number: int, a: str, b: str) -> Meeting:
    """The meeting of the two named people in a version."""
    version = db.scalars(
        select(ScheduleVersion).where(ScheduleVersion.number == version_number)
    ).one()
    for meeting in db.scalars(select(Meeting).where(Meeting.version_id == version.id)):
        if {meeting.participant_a.name, meeting.participant_b.name} == {a, b}:
            return meeting
    raise AssertionError(f"no meeting of {a} and {b} in version {version_number}")


def _free_place(db: Session, version_number: int, meeting: Meeting) -> tuple[str, str]:
    """A slot where both people of the meeting are free, and a table free then (keys)."""
    version = db.scalars(
        select(ScheduleVersion).where(ScheduleVersion.number == version_number)
    ).one()
    others = list(db.scalars(select(Meeting).where(Meeting.version_id == version.id)))
    people = {meeting.participant_a_id, meeting.participant_b_id}
    for slot in sorted(meeting.slot.session.slots, key=lambda s: s.start):
        if slot.id == meeting.slot_id:
            continue
        busy = [m for m in others if m.slot_id == slot.id]
        if any({m.participant_a_id, m.participant_b_id} & people for m in busy):
            continue
        taken = {m.location_id for m in busy}
        for location in sorted(meeting.location.event.locations, key=lambda loc: loc.id):
            if location.id not in taken:
                return slot.key, location.key
    raise AssertionError("no free slot for the meeting")


def _move_pin_resolve_publish(page: Any, served: Served) -> None:
    page.get_by_role("link", name="Edit by hand").click()
    page.get_by_role("heading", name="Edit version 1 by hand").wait_for()
    with _db(served) as db:
        meeting = _pair(db, 1, "Ann Aas", "Ben Berg")
        uid, before = meeting.uid, meeting.slot_id
        slot_key, location_key = _free_place(db, 1, meeting)
    page.get_by_label("Meeting", exact=True).first.select_option(uid)
    page.locator("#move-slot").select_option(slot_key)
    page.locator("#move-location").select_option(location_key)
    _shot(page, "17-move-form")
    page.get_by_role("button", name="Move", exact=True).click()
    page.locator("#edit-log").wait_for()
    with _db(served) as db:
        moved = _pair(db, 1, "Ann Aas", "Ben Berg")
        assert moved.slot.key == slot_key
        assert moved.slot_id != before
        assert moved.location.key == location_key
        when, where = moved.slot.start.strftime("%H:%M"), moved.location.name
    row = page.locator("#meetings tr", has_text="Ann Aas")
    assert when in row.inner_text()
    assert where in row.inner_text()
    _shot(page, "18-moved")

    page.locator("#pin-meeting").select_option(uid)
    page.get_by_role("button", name="Pin", exact=True).click()
    page.locator("#meetings tr", has_text="Ann Aas").get_by_text("pinned").wait_for()
    resolve = page.locator("section[aria-labelledby=resolve-h]").inner_text()
    assert "the pinned meeting stays exactly where it is" in resolve
    _shot(page, "19-pinned")
    page.set_viewport_size(PHONE)
    assert _widest(page, "main form") <= 390
    _shot(page, "19b-hand-edits-phone")
    page.set_viewport_size(DESKTOP)

    page.get_by_label("Search time").select_option(index=0)
    page.get_by_role("button", name="Re-solve around pins").click()
    page.get_by_role("heading", name="Schedule version 2").wait_for(timeout=60_000)
    cell = page.locator("table td", has_text="Ann Aas (Oslo Batteries AS)")
    assert "pinned" in cell.inner_text()  # the timetable marks the pin
    _shot(page, "20-resolved-version-2")
    with _db(served) as db:
        kept = _pair(db, 2, "Ann Aas", "Ben Berg")
        assert kept.pinned
        assert kept.slot.key == slot_key
        assert kept.location.key == location_key

    if page.get_by_label("I have read who loses a meeting").count():
        page.get_by_label("I have read who loses a meeting").check()
    if page.get_by_label("Publish anyway").count():
        page.get_by_label("Publish anyway").check()
    page.get_by_role("button", name="Publish version 2").click()
    page.get_by_text("Version 2 is published.").wait_for()
    _shot(page, "21-published")


def _message_a_delegation(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/organiser/e/{SLUG}")
    page.get_by_role("link", name="Write to participants").click()
    page.get_by_role("radio", name="One delegation").check()
    page.get_by_label("Delegation (for “One delegation”)").select_option("Canada")
    page.get_by_label("Subject").fill("Welcome reception")
    page.get_by_label("Message").fill("The reception starts at 18:00 in Hall C.")
    page.get_by_role("button", name="See who receives it").click()
    send = page.get_by_role("button", name="Send to 3 participants")
    send.wait_for()
    assert "Chloé Tremblay" in page.locator("#recipients-title + p").inner_text()
    _shot(page, "22-message-preview")
    page.set_viewport_size(PHONE)
    _shot(page, "22b-message-preview-phone")
    page.set_viewport_size(DESKTOP)
    with _db(served) as db:
        before = db.scalar(select(func.count()).select_from(OutboxMail)) or 0
    send.click()
    page.get_by_role("status").wait_for()
    _shot(page, "23-message-sent")
    with _db(served) as db:
        queued = list(
            db.scalars(select(OutboxMail).where(OutboxMail.template == "organiser_message"))
        )
        assert sorted(m.recipient for m in queued) == [
            "ana@example.org", "chloe@example.org", "fay@example.org"
        ]  # fmt: skip
        assert (db.scalar(select(func.count()).select_from(OutboxMail)) or 0) == before + 3


def test_the_organisers_whole_journey_in_the_pages(
    served: Served, browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    token = _first_organiser(served, monkeypatch)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, served, token)
    _create_event(page)
    _slots_and_tables(page, served)
    _import(page, served, tmp_path)
    _open_registration(page, served)
    _wish_and_accept(browser, served)
    _close_and_solve(page, served)
    _move_pin_resolve_publish(page, served)
    _message_a_delegation(page, served)
    context.close()
    assert errors == []
