"""Timetable and agendas of a schedule version as CSV and Excel (XLSX) files for organisers.

Names come from registrations, so any cell may start with `=`, `+`, `-` or `@`. In CSV such a
cell gets a leading `'` (a spreadsheet would run it as a formula otherwise); in XLSX every
text is written as a string cell, which a spreadsheet never evaluates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Literal

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from matchmaking.bundle.store import safe_cell, version_to_show
from matchmaking.delivery.agenda import video_link
from matchmaking.planning.versions import load_meetings
from matchmaking.platform.errors import NotFound
from matchmaking.platform.models import Event, Meeting, Participant, ScheduleVersion

Cellvalue = str | int | date | time
ExportKind = Literal["timetable", "agendas"]

TIMETABLE_COLUMNS = (
    "Date", "Start", "End", "Session", "Location", "Location kind", "Meeting kind",
    "Participant A", "Organisation A", "Country A",
    "Participant B", "Organisation B", "Country B", "Video link", "Meeting id",
)  # fmt: skip
AGENDA_COLUMNS = (
    "Participant", "Organisation", "E-mail", "Date", "Start", "End", "Location",
    "Counterpart", "Counterpart organisation", "Country", "Meeting kind", "Video link",
)  # fmt: skip


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[str]
    rows: list[list[Cellvalue]]


def _ordered(session: Session, version: ScheduleVersion) -> list[Meeting]:
    meetings = load_meetings(session, version)
    meetings.sort(key=lambda m: (m.slot.start, m.location.position, m.location.key, m.id))
    return meetings


def timetable_sheet(session: Session, version: ScheduleVersion) -> Sheet:
    """One row per meeting, in time order, then by location."""
    event = version.event
    rows: list[list[Cellvalue]] = []
    for m in _ordered(session, version):
        a, b = m.participant_a, m.participant_b
        rows.append(
            [
                m.slot.start.date(),
                m.slot.start.time(),
                m.slot.end.time(),
                m.slot.session.name,
                m.location.name,
                m.location.kind.value,
                m.kind,
                a.name,
                a.organisation.name,
                a.organisation.country,
                b.name,
                b.organisation.name,
                b.organisation.country,
                video_link(event, m.location, m.uid) or "",
                m.uid,
            ]
        )
    return Sheet(f"Timetable v{version.number}", TIMETABLE_COLUMNS, rows)


def timetable_csv(session: Session, event: Event, version: ScheduleVersion | None = None) -> bytes:
    """The timetable as CSV (`timetable_sheet`, `to_csv`) of `version`, else of the published
    version, else of the latest one: the CLI's `export --format csv` and the dashboard's
    download are this one file. NotFound when the event has no version yet."""
    chosen = version or version_to_show(session, event)
    if chosen is None:
        raise NotFound(f'event "{event.slug}" has no schedule yet; run a solve first')
    return to_csv(timetable_sheet(session, chosen))


def agendas_sheet(session: Session, version: ScheduleVersion) -> Sheet:
    """One row per participant and meeting: every participant's agenda, one after another."""
    event = version.event
    per_person: dict[int, list[tuple[Participant, Participant, Meeting]]] = {}
    for m in _ordered(session, version):
        for me, other in ((m.participant_a, m.participant_b), (m.participant_b, m.participant_a)):
            per_person.setdefault(me.id, []).append((me, other, m))
    rows: list[list[Cellvalue]] = []
    people = sorted(
        per_person.values(), key=lambda items: (items[0][0].name.lower(), items[0][0].id)
    )
    for items in people:
        for me, other, m in items:
            rows.append(
                [
                    me.name,
                    me.organisation.name,
                    me.email,
                    m.slot.start.date(),
                    m.slot.start.time(),
                    m.slot.end.time(),
                    m.location.name,
                    other.name,
                    other.organisation.name,
                    other.organisation.country,
                    m.kind,
                    video_link(event, m.location, m.uid) or "",
                ]
            )
    return Sheet(f"Agendas v{version.number}", AGENDA_COLUMNS, rows)


def sheet_for(session: Session, version: ScheduleVersion, kind: ExportKind) -> Sheet:
    if kind == "timetable":
        return timetable_sheet(session, version)
    if kind == "agendas":
        return agendas_sheet(session, version)
    raise ValueError(f"unknown export {kind!r}; use 'timetable' or 'agendas'")


def _text(value: Cellvalue) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(sheet: Sheet) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheets read accented names right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(sheet.columns)
    for row in sheet.rows:
        writer.writerow([safe_cell(_text(v)) for v in row])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(sheets: Iterable[Sheet]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        ws = workbook.create_sheet(sheet.title[:31])
        ws.append(list(sheet.columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r, row in enumerate(sheet.rows, start=2):
            for c, value in enumerate(row, start=1):
                _write_cell(ws.cell(row=r, column=c), value)
        ws.freeze_panes = "A2"
        for c, name in enumerate(sheet.columns, start=1):
            widest = max([len(name), *(len(_text(row[c - 1])) for row in sheet.rows[:200])])
            ws.column_dimensions[get_column_letter(c)].width = min(48, widest + 2)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _write_cell(cell: Cell, value: Cellvalue) -> None:
    if isinstance(value, str):
        cell.value = value
        # openpyxl stores a text starting with "=" as a formula; force it to stay text.
        cell.data_type = "s"
    elif isinstance(value, time):
        cell.value = value
        cell.number_format = "hh:mm"
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    else:
        cell.value = value
