"""Participants and wishes from spreadsheets (docs/bundle-format.md, "Spreadsheets").

An organiser's workbook (sheets `participants` and, optional, `wishes`) or the same columns as
CSV files is read into rows (`read_upload`), checked against the event into a plan of what to
create and update (`plan_import`), and the plan is stored with bulk statements
(`apply_plan`). A file with any bad row is refused whole: `SheetError.problems` names every
problem by sheet, row (as the spreadsheet shows it, the header is row 1) and column, and
nothing is stored.

Decisions:
- Participants are matched by e-mail (case ignored), organisations by name (case and
  surrounding spaces ignored); a match is updated, never duplicated.
- An empty cell leaves the stored value as it is; a new participant or organisation gets the
  default. A sheet cannot clear a value (the API and the pages can).
- Rows of one organisation must agree on its fields (kind, country, sectors, offers, seeks,
  delegation); a row that differs from an earlier one is a problem.
- A cell that starts with "=" (a formula, or text a spreadsheet would run as one) is refused:
  it is never evaluated and never stored.
- Rows whose cells are all empty are skipped. Sheets other than `participants` and `wishes`
  are ignored (the template's `instructions`).
- Files are at most `MAX_FILE_BYTES`; a workbook's parts at most `MAX_UNPACKED_BYTES` unpacked;
  a sheet at most `MAX_ROWS` rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, Final, Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from matchmaking.organising.events import lock_event
from matchmaking.participants.recommend import delegation_key
from matchmaking.platform.countries import COUNTRY_CODES
from matchmaking.platform.models import (
    Attendance,
    Event,
    EventMode,
    Organisation,
    OrganisationKind,
    Participant,
    ParticipantUnavailableSlot,
    Slot,
    Wish,
    WishStatus,
)

MAX_FILE_BYTES: Final = 5 * 1024 * 1024
MAX_UNPACKED_BYTES: Final = 100 * 1024 * 1024
MAX_ROWS: Final = 50_000

PARTICIPANT_COLUMNS: Final = (
    "email", "name", "organisation", "organisation_kind", "country", "sectors", "offers",
    "seeks", "delegation", "job_title", "attendance", "unavailable", "max_meetings",
)  # fmt: skip
PARTICIPANT_REQUIRED: Final = ("email", "name", "organisation")
WISH_COLUMNS: Final = ("from", "to", "to_organisation", "priority", "status", "required")
WISH_REQUIRED: Final = ("from",)
COLUMNS: Final = {"participants": PARTICIPANT_COLUMNS, "wishes": WISH_COLUMNS}
REQUIRED: Final = {"participants": PARTICIPANT_REQUIRED, "wishes": WISH_REQUIRED}

#: One example row per sheet, for the downloadable template.
EXAMPLE_ROWS: Final = {
    "participants": {
        "email": "k.sermuksnyte@example.org",
        "name": "Kristina Šermukšnytė",
        "organisation": "Energy Cluster Denmark",
        "organisation_kind": "cluster",
        "country": "DK",
        "sectors": "Energy; Hydrogen",
        "offers": "battery recycling services; grid storage pilots",
        "seeks": "partners for green hydrogen",
        "delegation": "EU",
        "job_title": "Cluster manager",
        "attendance": "onsite",
        "unavailable": "",
        "max_meetings": "8",
    },
    "wishes": {
        "from": "k.sermuksnyte@example.org",
        "to": "",
        "to_organisation": "Energy Cluster Denmark",
        "priority": "2",
        "status": "accepted",
        "required": "no",
    },
}

MAX_SECTORS = 30
MAX_SECTOR = 100
MAX_PHRASES = 30
MAX_PHRASE = 200
MAX_DELEGATION = 100
_LIMITS = {
    "name": 200,
    "organisation": 300,
    "job_title": 200,
    "email": 254,
}

SheetName = Literal["participants", "wishes"]
Kind = Literal["xlsx", "csv"]


# --- problems ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SheetProblem:
    """One problem: where (sheet, row, column; "file" for the file as a whole) and what."""

    sheet: str
    row: int | None
    column: str | None
    message: str

    @property
    def where(self) -> str:
        if self.row is None:
            return self.sheet if self.column is None else f"{self.sheet}, column {self.column}"
        if self.column is None:
            return f"{self.sheet} row {self.row}"
        return f"{self.sheet} row {self.row}, column {self.column}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SheetError(ValueError):
    """A file refused whole; `problems` lists everything wrong with it."""

    def __init__(self, problems: list[SheetProblem]) -> None:
        order = {"file": 0, "participants": 1, "wishes": 2}
        self.problems = sorted(
            dict.fromkeys(problems),
            key=lambda p: (order.get(p.sheet, 3), p.row or 0, _column_order(p)),
        )
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"the file has {count} problem{'s' * (count != 1)}:\n{lines}")


def _column_order(problem: SheetProblem) -> int:
    columns = COLUMNS.get(problem.sheet, ())
    return columns.index(problem.column) if problem.column in columns else len(columns)


def _file_problem(message: str) -> SheetError:
    return SheetError([SheetProblem("file", None, None, message)])


# --- the uploaded files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """What an organiser sends: one workbook, or a participants CSV and maybe a wishes CSV."""

    kind: Kind
    main: bytes
    extra: bytes | None = None
    filename: str = ""

    @property
    def digest(self) -> str:
        """SHA-256 over the kind and the contents: the same files give the same digest."""
        h = hashlib.sha256(self.kind.encode())
        for part in (self.main, self.extra or b""):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
        return h.hexdigest()


_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def upload_from(main: bytes, extra: bytes | None = None, filename: str = "") -> Upload:
    """The upload of `main` (a workbook or a participants CSV) and optional wishes CSV; the
    kind is told by content, not by file name."""
    if main.startswith(_ZIP_MAGIC):
        if extra:
            raise _file_problem(
                "send wishes either in the workbook's wishes sheet or as a CSV file with a "
                "participants CSV, not a CSV with a workbook"
            )
        return Upload("xlsx", main, None, filename)
    return Upload("csv", main, extra or None, filename)


def read_limited(stream: io.RawIOBase | io.BufferedIOBase | Any, what: str = "file") -> bytes:
    """Read a binary stream up to `MAX_FILE_BYTES`; larger ones are refused after reading at
    most one chunk past the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise too_large(what)
        chunks.append(chunk)


def too_large(what: str = "file") -> SheetError:
    mib = MAX_FILE_BYTES // (1024 * 1024)
    return _file_problem(
        f"the {what} is larger than {mib} MB; split it, or remove pictures and other sheets"
    )


# --- reading rows -------------------------------------------------------------------------------


@dataclass
class SheetRows:
    """The data rows of one sheet: (row number as shown, {column: text})."""

    name: str
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    #: Cells refused while reading (formulas): (row, column); left out of `rows`.
    refused: set[tuple[int, str]] = field(default_factory=set)
    #: Problems of single cells, reported with those of the rows.
    problems: list[SheetProblem] = field(default_factory=list)


def read_upload(upload: Upload) -> dict[str, SheetRows]:
    """The sheets of an upload, header checked; SheetError lists every problem found."""
    if len(upload.main) > MAX_FILE_BYTES or len(upload.extra or b"") > MAX_FILE_BYTES:
        raise too_large()
    problems: list[SheetProblem] = []
    raw: dict[str, Iterable[tuple[int, list[Any]]]] = {}
    if upload.kind == "xlsx":
        raw = _workbook_sheets(upload.main)
    else:
        raw["participants"] = _csv_rows(upload.main, "participants")
        if upload.extra is not None:
            raw["wishes"] = _csv_rows(upload.extra, "wishes")
    sheets = {name: _rows(name, rows, problems) for name, rows in raw.items()}
    if problems:
        # The header is wrong (or the file): its rows cannot be read column by column.
        raise SheetError(problems + [p for sheet in sheets.values() for p in sheet.problems])
    return sheets


def _workbook_sheets(data: bytes) -> dict[str, Iterable[tuple[int, list[Any]]]]:
    if data.startswith(_OLE_MAGIC):
        raise _file_problem("is an old .xls workbook (or an encrypted one); save it as .xlsx")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise _file_problem("is not an XLSX workbook (the file is damaged)") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise _file_problem(
            f"unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB; "
            "keep only the participants and wishes sheets"
        )
    from openpyxl import load_workbook  # loaded when a workbook arrives: it is slow to import

    try:
        # data_only=False: a formula cell reads as its text ("=A1"), which is refused below;
        # nothing is ever evaluated.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for files that are no workbook
        raise _file_problem("is not an XLSX workbook") from None
    by_name = {name.strip().lower(): name for name in book.sheetnames}
    if "participants" not in by_name:
        found = ", ".join(f'"{n}"' for n in book.sheetnames) or "none"
        raise _file_problem(f'has no sheet "participants" (its sheets: {found})')
    sheets: dict[str, Iterable[tuple[int, list[Any]]]] = {}
    for name in ("participants", "wishes"):
        if name in by_name:
            worksheet = book[by_name[name]]
            if hasattr(worksheet, "reset_dimensions"):
                # Some writers store a wrong size; read every row that is there.
                worksheet.reset_dimensions()
            sheets[name] = _worksheet_rows(worksheet, name)
    return sheets


def _worksheet_rows(worksheet: Any, name: str) -> Iterator[tuple[int, list[Any]]]:
    for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
        if number > MAX_ROWS + 1:
            raise _file_problem(f"the {name} sheet has more than {MAX_ROWS} rows")
        yield number, list(values)


def _csv_rows(data: bytes, name: str) -> Iterator[tuple[int, list[Any]]]:
    if data.startswith(_OLE_MAGIC):
        raise _file_problem("is an old .xls workbook (or an encrypted one); save it as .xlsx")
    if data.startswith(_ZIP_MAGIC):
        raise _file_problem(f"the {name} file is a workbook, not a CSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_problem(
            f"the {name} file is neither an XLSX workbook nor CSV text in UTF-8 "
            '(in a spreadsheet program, save it as "CSV UTF-8")'
        ) from None
    if "\x00" in text:
        raise _file_problem(f"the {name} file is not a spreadsheet (it holds binary data)")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, values in enumerate(reader, start=1):
            if number > MAX_ROWS + 1:
                raise _file_problem(f"the {name} file has more than {MAX_ROWS} rows")
            yield number, values
    except csv.Error as error:
        raise _file_problem(f"the {name} file is not valid CSV: {error}") from None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value).strip()


def _rows(
    name: str, rows: Iterable[tuple[int, list[Any]]], problems: list[SheetProblem]
) -> SheetRows:
    iterator = iter(rows)
    header: list[str] | None = None
    for number, values in iterator:
        cells = [_cell_text(v) for v in values]
        if any(cells):
            if number != 1:
                problems.append(
                    SheetProblem(name, 1, None, "the first row must hold the column names")
                )
            header = [c.strip().lower() for c in cells]
            break
    sheet = SheetRows(name, [])
    if header is None:
        problems.append(SheetProblem(name, None, None, "the sheet is empty"))
        return sheet
    known = COLUMNS[name]
    positions: dict[int, str] = {}
    for position, column in enumerate(header):
        if not column:
            continue
        if column not in known:
            expected = ", ".join(known)
            problems.append(
                SheetProblem(name, 1, column, f"unknown column; the {name} columns are: {expected}")
            )
        elif column in positions.values():
            problems.append(SheetProblem(name, 1, column, "the column appears twice"))
        else:
            positions[position] = column
    for column in REQUIRED[name]:
        if column not in positions.values():
            problems.append(SheetProblem(name, 1, column, "this required column is missing"))
    sheet.columns = list(positions.values())
    for number, values in iterator:
        cells = [_cell_text(v) for v in values]
        if not any(cells):
            continue  # an empty row
        row: dict[str, str] = {}
        for position, text in enumerate(cells):
            if not text:
                continue
            named = positions.get(position)
            if named is None:
                if position >= len(header) or not header[position]:
                    sheet.problems.append(
                        SheetProblem(
                            name,
                            number,
                            None,
                            f'a value ("{_short(text)}") in a column without a name in row 1',
                        )
                    )
                continue
            if text.startswith("="):
                sheet.refused.add((number, named))
                sheet.problems.append(
                    SheetProblem(
                        name, number, named,
                        f'"{_short(text)}" is a formula; formulas are not imported, type '
                        "the value itself",
                    )
                )  # fmt: skip
                continue
            row[named] = text
        sheet.rows.append((number, row))
    return sheet


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- checking rows against the event --------------------------------------------------------------


@dataclass(eq=False)
class OrganisationPlan:
    name: str
    row: int
    id: int | None = None
    key: str = ""
    #: The fields the sheet sets (absent = keep as stored, or the default for a new one).
    fields: dict[str, Any] = field(default_factory=dict)
    #: Row where each field was given first, to name both rows when two rows disagree.
    given_in: dict[str, int] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class ParticipantPlan:
    row: int
    email: str
    name: str
    organisation: str  # normalised organisation name (lower case)
    id: int | None = None
    key: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    unavailable: list[int] | None = None
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class WishPlan:
    row: int
    sender: str  # e-mail, lower case
    recipient: str | None  # e-mail, lower case
    recipient_organisation: str | None  # organisation name, lower case
    fields: dict[str, Any]
    id: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportPlan:
    """What an import creates and updates; `summary()` is what the preview shows."""

    event_id: int
    organisations: dict[str, OrganisationPlan] = field(default_factory=dict)
    participants: list[ParticipantPlan] = field(default_factory=list)
    wishes: list[WishPlan] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def counts(items: Iterable[Any]) -> dict[str, int]:
            items = list(items)
            new = sum(1 for i in items if i.id is None)
            changed = sum(1 for i in items if i.id is not None and i.changes)
            return {"create": new, "update": changed, "unchanged": len(items) - new - changed}

        organisations = list(self.organisations.values())
        return {
            "participants": counts(self.participants),
            "organisations": counts(organisations),
            "wishes": counts(self.wishes),
            "rows": {
                "create": [
                    {"row": p.row, "email": p.email, "name": p.name,
                     "organisation": self.organisations[p.organisation].name}
                    for p in self.participants if p.id is None
                ],
                "update": [
                    {"row": p.row, "email": p.email, "name": p.name,
                     "changes": sorted(p.changes)}
                    for p in self.participants if p.id is not None and p.changes
                ],
                "organisations_create": [o.name for o in organisations if o.id is None],
                "organisations_update": [
                    {"name": o.name, "changes": sorted(o.changes)}
                    for o in organisations if o.id is not None and o.changes
                ],
            },
        }  # fmt: skip

    @property
    def fingerprint(self) -> str:
        """Changes to make, as a digest: a confirmed import must be the previewed one."""
        document = {
            "organisations": [
                [o.name, o.id, sorted(o.changes.items())] for o in self.organisations.values()
            ],
            "participants": [[p.email, p.id, sorted(p.changes.items())] for p in self.participants],
            "wishes": [
                [w.sender, w.recipient, w.recipient_organisation, w.id, sorted(w.changes.items())]
                for w in self.wishes
            ],
        }
        text = json.dumps(document, default=str, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=65_536)
def _is_email(value: str) -> bool:
    # Cached: the wishes sheet names the same people many times.
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _norm_name(name: str) -> str:
    return " ".join(name.split())


def _split(value: str) -> list[str]:
    return [_norm_name(part) for part in value.split(";") if part.strip()]


_CONTROL = frozenset(chr(c) for c in [*range(0, 32), *range(127, 160)])

#: The wishes sheet's optional columns of a few allowed words: column, word → value, and why
#: another word is refused.
_WISH_CHOICES: Final[tuple[tuple[str, dict[str, Any], str], ...]] = (
    (
        "priority",
        {"1": 1, "2": 2, "3": 3},
        "is not a priority; use 1 (must meet), 2 (want to meet) or 3 (nice to meet)",
    ),
    (
        "status",
        {s: WishStatus(s) for s in ("accepted", "requested", "declined")},
        "is not a status; use accepted, requested or declined",
    ),
    ("required", {"yes": True, "no": False}, "is not yes or no"),
)


class _Checker:
    """Checks the rows of one upload against one event, collecting every problem."""

    def __init__(self, session: Session, event: Event) -> None:
        self.session = session
        self.event = event
        self.problems: list[SheetProblem] = []
        self.plan = ImportPlan(event.id)
        #: E-mails of the participants sheet (lower case) -> organisation (lower-case name).
        self.sheet_emails: dict[str, str | None] = {}
        rows = session.execute(
            select(
                Participant.email, Participant.id, Participant.key, Participant.organisation_id,
                Participant.name, Participant.job_title, Participant.attendance,
                Participant.max_meetings,
            ).where(Participant.event_id == event.id, Participant.email != "")
        )  # fmt: skip
        #: lower-case e-mail -> (id, key, organisation id, name, job title, attendance, cap)
        self.participants = {row[0].lower(): tuple(row[1:]) for row in rows}
        self.organisations: dict[str, Organisation] = {}
        self.organisation_by_id: dict[int, Organisation] = {}
        for org in session.scalars(select(Organisation).where(Organisation.event_id == event.id)):
            self.organisations.setdefault(_norm_name(org.name).lower(), org)
            self.organisation_by_id[org.id] = org
        self.slot_keys: dict[str, int] = {}
        self.slot_starts: dict[str, int] = {}
        for sid, key, start in session.execute(
            select(Slot.id, Slot.key, Slot.start).where(Slot.event_id == event.id)
        ):
            self.slot_keys[key] = sid
            self.slot_starts[start.strftime("%Y-%m-%d %H:%M")] = sid

    def problem(self, sheet: str, row: int, column: str | None, message: str) -> None:
        self.problems.append(SheetProblem(sheet, row, column, message))

    # -- participants ----------------------------------------------------------------------

    def text(
        self, sheet: str, row: int, values: dict[str, str], column: str, limit: int
    ) -> str | None:
        value = values.get(column)
        if value is None:
            return None
        if any(c in _CONTROL for c in value):
            self.problem(sheet, row, column, "must not contain line breaks or tabs")
            return None
        if len(value) > limit:
            self.problem(sheet, row, column, f"is longer than {limit} characters")
            return None
        return value

    def phrases(
        self, row: int, values: dict[str, str], column: str, most: int, limit: int
    ) -> list[str] | None:
        value = values.get(column)
        if value is None:
            return None
        parts = _split(value)
        if len(parts) > most:
            self.problem("participants", row, column, f"lists {len(parts)} values; at most {most}")
            return None
        for part in parts:
            if len(part) > limit:
                self.problem(
                    "participants", row, column,
                    f'"{_short(part)}" is longer than {limit} characters',
                )  # fmt: skip
                return None
            if any(c in _CONTROL for c in part):
                self.problem("participants", row, column, "must not contain line breaks or tabs")
                return None
        return list(dict.fromkeys(parts))

    def email(self, sheet: str, row: int, column: str, value: str) -> str | None:
        if not _is_email(value):
            self.problem(sheet, row, column, f'"{_short(value)}" is not an e-mail address')
            return None
        return value

    def participant_rows(self, sheet: SheetRows) -> None:
        seen: dict[str, int] = {}
        for row, values in sheet.rows:
            missing = [
                c
                for c in PARTICIPANT_REQUIRED
                if c in sheet.columns and c not in values and (row, c) not in sheet.refused
            ]
            for column in missing:
                self.problem("participants", row, column, "is required")
            email = values.get("email")
            if email is not None:
                email = self.email("participants", row, "email", email)
            if email is not None:
                if email.lower() in seen:
                    self.problem(
                        "participants", row, "email",
                        f'"{email}" is also in row {seen[email.lower()]}; '
                        "each participant is one row",
                    )  # fmt: skip
                    email = None
                else:
                    seen[email.lower()] = row
            name = self.text("participants", row, values, "name", _LIMITS["name"])
            org_name = self.text("participants", row, values, "organisation", 300)
            organisation = self.organisation_row(row, values, _norm_name(org_name or ""))
            if email is not None:
                # Known to the wishes sheet even when the row has other problems, so a wish
                # to it is not reported as well.
                self.sheet_emails[email.lower()] = organisation
            fields = self.participant_fields(row, values)
            if email is None or name is None or organisation is None or fields is None:
                continue
            plan = ParticipantPlan(row, email, name, organisation)
            plan.unavailable = fields.pop("unavailable", None)
            plan.fields = {"name": name, **fields}
            self.plan.participants.append(plan)

    def organisation_row(self, row: int, values: dict[str, str], name: str) -> str | None:
        fields: dict[str, Any] = {}
        kind = values.get("organisation_kind")
        if kind is not None:
            try:
                fields["kind"] = OrganisationKind(kind.lower())
            except ValueError:
                self.problem(
                    "participants", row, "organisation_kind",
                    f'"{_short(kind)}" is not a kind of organisation; use cluster, company, '
                    "research, public or other",
                )  # fmt: skip
        country = values.get("country")
        if country is not None:
            if country.upper() in COUNTRY_CODES:
                fields["country"] = country.upper()
            else:
                self.problem(
                    "participants", row, "country",
                    f'"{_short(country)}" is not an ISO 3166 country code',
                )  # fmt: skip
        for column, most, limit in (
            ("sectors", MAX_SECTORS, MAX_SECTOR),
            ("offers", MAX_PHRASES, MAX_PHRASE),
            ("seeks", MAX_PHRASES, MAX_PHRASE),
        ):
            found = self.phrases(row, values, column, most, limit)
            if found is not None:
                fields[column] = found
        delegation = self.text("participants", row, values, "delegation", MAX_DELEGATION)
        if delegation is not None:
            fields["delegation"] = _norm_name(delegation)
        if not name:
            return None
        key = name.lower()
        plan = self.plan.organisations.get(key)
        if plan is None:
            existing = self.organisations.get(key)
            plan = OrganisationPlan(
                name=existing.name if existing else name,
                row=row,
                id=existing.id if existing else None,
                key=existing.key if existing else "",
            )
            self.plan.organisations[key] = plan
        for column, value in fields.items():
            if column in plan.fields and plan.fields[column] != value:
                shown = plan.fields[column]
                shown = "; ".join(shown) if isinstance(shown, list) else str(shown)
                self.problem(
                    "participants", row, _column_of(column),
                    f'differs from "{_short(shown)}" given for "{plan.name}" in row '
                    f"{plan.given_in[column]}; rows of one organisation must agree",
                )  # fmt: skip
            elif column not in plan.fields:
                plan.fields[column] = value
                plan.given_in[column] = row
        return key

    def participant_fields(self, row: int, values: dict[str, str]) -> dict[str, Any] | None:
        fields: dict[str, Any] = {}
        ok = True
        job_title = self.text("participants", row, values, "job_title", _LIMITS["job_title"])
        if job_title is not None:
            fields["job_title"] = job_title
        elif "job_title" in values:
            ok = False
        attendance = values.get("attendance")
        if attendance is not None:
            try:
                chosen = Attendance(attendance.lower())
            except ValueError:
                self.problem(
                    "participants", row, "attendance",
                    f'"{_short(attendance)}" is not an attendance; use onsite or online',
                )  # fmt: skip
                ok = False
            else:
                mode = self.event.mode
                if mode is not EventMode.hybrid and chosen.value != mode.value:
                    self.problem(
                        "participants", row, "attendance",
                        f"this event is held {mode.value} only; use {mode.value}",
                    )  # fmt: skip
                    ok = False
                fields["attendance"] = chosen
        unavailable = values.get("unavailable")
        if unavailable is not None:
            slots: list[int] = []
            for part in _split(unavailable):
                slot = self.slot_keys.get(part) or self.slot_starts.get(part.replace("T", " "))
                if slot is None:
                    self.problem(
                        "participants", row, "unavailable",
                        f'"{_short(part)}" is neither a slot id nor the start of a slot '
                        '("YYYY-MM-DD HH:MM")',
                    )  # fmt: skip
                    ok = False
                elif slot not in slots:
                    slots.append(slot)
            fields["unavailable"] = slots
        cap = values.get("max_meetings")
        if cap is not None:
            if cap.isdigit() and int(cap) <= 10_000:
                fields["max_meetings"] = int(cap)
            else:
                self.problem(
                    "participants", row, "max_meetings",
                    f'"{_short(cap)}" is not a whole number from 0 to 10000',
                )  # fmt: skip
                ok = False
        return fields if ok else None

    # -- wishes ------------------------------------------------------------------------------

    def choice(
        self,
        row: int,
        values: dict[str, str],
        column: str,
        choices: dict[str, Any],
        refusal: str,
        fields: dict[str, Any],
    ) -> bool:
        """A wish's optional column of a few allowed words (case aside): the chosen value goes
        into `fields`; any other word is a problem (`refusal` says why) and gives False."""
        value = values.get(column)
        if value is None:
            return True
        if value.lower() in choices:
            fields[column] = choices[value.lower()]
            return True
        self.problem("wishes", row, column, f'"{_short(value)}" {refusal}')
        return False

    def known_email(self, row: int, column: str, value: str) -> str | None:
        email = self.email("wishes", row, column, value)
        if email is None:
            return None
        if email.lower() in self.sheet_emails or email.lower() in self.participants:
            return email.lower()
        self.problem(
            "wishes", row, column,
            f'"{_short(email)}" is no participant of the event or of the participants sheet',
        )  # fmt: skip
        return None

    def organisation_of(self, email: str) -> str | None:
        if email in self.sheet_emails:
            return self.sheet_emails[email]
        org_id = self.participants[email][2]
        return _norm_name(self.organisation_by_id[org_id].name).lower()

    def delegation_of(self, organisation: str) -> str:
        """The delegation an organisation (normalised lower-case name) will have."""
        planned = self.plan.organisations.get(organisation)
        if planned is not None and "delegation" in planned.fields:
            return str(planned.fields["delegation"])
        stored = self.organisations.get(organisation)
        return stored.delegation if stored is not None else ""

    def same_delegation(self, sender: str, recipient: str | None, to_org: str | None) -> str:
        """Under `cross_delegation_only`: the delegation the two sides share, else ""."""
        if not (self.event.rules or {}).get("cross_delegation_only"):
            return ""
        target = to_org if to_org is not None else self.organisation_of(recipient or "")
        sender_org = self.organisation_of(sender)
        if sender_org is None or target is None:
            return ""
        mine = self.delegation_of(sender_org)
        if delegation_key(mine) and delegation_key(mine) == delegation_key(
            self.delegation_of(target)
        ):
            return mine
        return ""

    def wish_rows(self, sheet: SheetRows) -> None:
        seen: dict[tuple[str, str | None, str | None], int] = {}
        for row, values in sheet.rows:
            fields: dict[str, Any] = {}
            ok = True
            sender = recipient = to_org = None
            if "from" not in values:
                if (row, "from") not in sheet.refused:
                    self.problem("wishes", row, "from", "is required")
                ok = False
            else:
                sender = self.known_email(row, "from", values["from"])
                ok = ok and sender is not None
            if ("to" in values) == ("to_organisation" in values):
                if not {(row, "to"), (row, "to_organisation")} & sheet.refused:
                    self.problem(
                        "wishes", row, "to", 'give exactly one of "to" and "to_organisation"'
                    )
                ok = False
            elif "to" in values:
                recipient = self.known_email(row, "to", values["to"])
                ok = ok and recipient is not None
                if recipient is not None and recipient == sender:
                    self.problem("wishes", row, "to", "a participant cannot wish to meet itself")
                    ok = False
            else:
                name = _norm_name(values["to_organisation"]).lower()
                if name in self.plan.organisations or name in self.organisations:
                    to_org = name
                    if sender is not None and self.organisation_of(sender) == name:
                        self.problem(
                            "wishes", row, "to_organisation",
                            "is the organisation of the sender itself",
                        )  # fmt: skip
                        ok = False
                else:
                    self.problem(
                        "wishes", row, "to_organisation",
                        f'"{_short(values["to_organisation"])}" is no organisation of the '
                        "event or of the participants sheet",
                    )  # fmt: skip
                    ok = False
            for column, choices, refusal in _WISH_CHOICES:
                ok = self.choice(row, values, column, choices, refusal, fields) and ok
            if not ok or sender is None:
                continue
            shared = self.same_delegation(sender, recipient, to_org)
            if shared:
                self.problem(
                    "wishes", row, "to" if recipient else "to_organisation",
                    f'both sides are of the delegation "{_short(shared)}", and the event\'s rule '
                    "cross_delegation_only allows meetings only between delegations",
                )  # fmt: skip
                continue
            pair = (sender, recipient, to_org)
            if pair in seen:
                self.problem(
                    "wishes", row, "to" if recipient else "to_organisation",
                    f"the same wish is in row {seen[pair]}",
                )  # fmt: skip
                continue
            seen[pair] = row
            self.plan.wishes.append(WishPlan(row, sender, recipient, to_org, fields))


def _column_of(org_field: str) -> str:
    return "organisation_kind" if org_field == "kind" else org_field


def plan_import(session: Session, event: Event, sheets: dict[str, SheetRows]) -> ImportPlan:
    """What importing `sheets` into `event` creates and updates; SheetError on any problem."""
    checker = _Checker(session, event)
    for sheet in sheets.values():
        checker.problems.extend(sheet.problems)
    checker.participant_rows(sheets["participants"])
    if "wishes" in sheets:
        checker.wish_rows(sheets["wishes"])
    if checker.problems:
        raise SheetError(checker.problems)
    _diff(session, event, checker)
    return checker.plan


_ORG_DEFAULTS: dict[str, Any] = {
    "kind": OrganisationKind.company, "country": "", "sectors": [], "offers": [], "seeks": [],
    "delegation": "",
}  # fmt: skip


_WISH_DEFAULTS: dict[str, Any] = {
    "priority": 2, "status": WishStatus.accepted, "required": False,
}  # fmt: skip


def _diff(session: Session, event: Event, checker: _Checker) -> None:
    """Fill in each plan item's `changes` against what is stored."""
    plan = checker.plan
    for org in plan.organisations.values():
        if org.id is None:
            org.changes = {**_ORG_DEFAULTS, **org.fields}
            continue
        stored = checker.organisation_by_id[org.id]
        org.changes = {k: v for k, v in org.fields.items() if getattr(stored, k) != v}
    stored_unavailable: dict[int, list[int]] = {}
    for pid, sid in session.execute(
        select(ParticipantUnavailableSlot.participant_id, ParticipantUnavailableSlot.slot_id)
        .join(Participant, Participant.id == ParticipantUnavailableSlot.participant_id)
        .where(Participant.event_id == event.id)
    ):
        stored_unavailable.setdefault(pid, []).append(sid)
    default_attendance = Attendance.online if event.mode is EventMode.online else Attendance.onsite
    for person in plan.participants:
        found = checker.participants.get(person.email.lower())
        target_org = plan.organisations[person.organisation]
        if found is None:
            person.changes = {
                "email": person.email, "job_title": "", "attendance": default_attendance,
                "max_meetings": None, **person.fields, "organisation": target_org.name,
            }  # fmt: skip
            if person.unavailable:
                person.changes["unavailable"] = sorted(person.unavailable)
            continue
        pid, key, org_id, name, job_title, attendance, max_meetings = found
        person.id, person.key = pid, key
        kept: dict[str, Any] = {
            "name": name, "job_title": job_title, "attendance": attendance,
            "max_meetings": max_meetings,
        }  # fmt: skip
        person.changes = {k: v for k, v in person.fields.items() if kept[k] != v}
        if target_org.id != org_id:
            person.changes["organisation"] = target_org.name
        if person.unavailable is not None and sorted(person.unavailable) != sorted(
            stored_unavailable.get(pid, [])
        ):
            person.changes["unavailable"] = sorted(person.unavailable)
    if not plan.wishes:
        return
    emails = {e: row[0] for e, row in checker.participants.items()}
    orgs = {name: org.id for name, org in checker.organisations.items()}
    existing: dict[tuple[int, int | None, int | None], tuple[int, int, WishStatus, bool]] = {}
    for wid, sender, recipient, rorg, priority, status, required in session.execute(
        select(
            Wish.id, Wish.sender_id, Wish.recipient_id, Wish.recipient_organisation_id,
            Wish.priority, Wish.status, Wish.required,
        ).where(Wish.event_id == event.id).order_by(Wish.id)
    ):  # fmt: skip
        existing.setdefault((sender, recipient, rorg), (wid, priority, status, required))
    for wish in plan.wishes:
        sender_id = emails.get(wish.sender)
        recipient_id = emails.get(wish.recipient) if wish.recipient else None
        org_id = orgs.get(wish.recipient_organisation) if wish.recipient_organisation else None
        found_wish = None
        if sender_id is not None and (recipient_id is not None or org_id is not None):
            found_wish = existing.get((sender_id, recipient_id, org_id))
        if found_wish is None:
            wish.changes = {**_WISH_DEFAULTS, **wish.fields}
            continue
        wish.id = found_wish[0]
        stored_wish = dict(zip(("priority", "status", "required"), found_wish[1:], strict=True))
        wish.changes = {k: v for k, v in wish.fields.items() if stored_wish[k] != v}


# --- storing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    dry_run: bool
    summary: dict[str, Any]
    fingerprint: str
    digest: str


def import_upload(
    session: Session,
    event: Event,
    upload: Upload,
    *,
    dry_run: bool = False,
    expect_fingerprint: str | None = None,
) -> ImportResult:
    """Check `upload` against `event` and, unless `dry_run`, store it; flushes, the caller
    commits. SheetError on a bad file; `StalePreview` when `expect_fingerprint` is given and
    the changes to make are no longer the ones previewed."""
    sheets = read_upload(upload)
    if not dry_run:
        # Serialises imports and registrations of the event (e-mails, organisation names).
        lock_event(session, event)
    plan = plan_import(session, event, sheets)
    if expect_fingerprint is not None and plan.fingerprint != expect_fingerprint:
        raise StalePreview(
            "The event changed since the preview (someone registered or edited a "
            "participant); look at the new preview and confirm again."
        )
    result = ImportResult(dry_run, plan.summary(), plan.fingerprint, upload.digest)
    if not dry_run:
        apply_plan(session, event, plan)
    return result


class StalePreview(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _new_keys(taken: set[str], prefix: str, count: int) -> list[str]:
    keys: list[str] = []
    while len(keys) < count:
        key = f"{prefix}-{secrets.token_hex(4)}"
        if key not in taken:
            taken.add(key)
            keys.append(key)
    return keys


def _keys(session: Session, model: Any, event: Event) -> set[str]:
    return set(session.scalars(select(model.key).where(model.event_id == event.id)))


def apply_plan(session: Session, event: Event, plan: ImportPlan) -> None:
    """Store the plan with bulk INSERT/UPDATE statements."""
    orgs = list(plan.organisations.values())
    new_orgs = [o for o in orgs if o.id is None]
    changed_orgs = [o for o in orgs if o.id is not None and o.changes]
    if new_orgs:
        keys = _new_keys(_keys(session, Organisation, event), "o", len(new_orgs))
        rows = [
            {"event_id": event.id, "key": key, "name": o.name, "focus_areas": [],
             "description": "", "website": "", **o.changes}
            for o, key in zip(new_orgs, keys, strict=True)
        ]  # fmt: skip
        ids = _insert(session, Organisation, event, rows)
        for o, key in zip(new_orgs, keys, strict=True):
            o.id, o.key = ids[key], key
    _bulk_update(session, Organisation, [(o.id, o.changes) for o in changed_orgs])
    people = plan.participants
    new_people = [p for p in people if p.id is None]
    changed_people = [p for p in people if p.id is not None and p.changes]
    if new_people:
        keys = _new_keys(_keys(session, Participant, event), "p", len(new_people))
        rows = [
            {"event_id": event.id, "key": key, "email": p.email, "name": p.name,
             "organisation_id": plan.organisations[p.organisation].id,
             "job_title": p.fields.get("job_title", ""),
             "attendance": p.changes["attendance"],
             "max_meetings": p.fields.get("max_meetings"),
             "timezone": "", "listed": False}
            for p, key in zip(new_people, keys, strict=True)
        ]  # fmt: skip
        ids = _insert(session, Participant, event, rows)
        for p, key in zip(new_people, keys, strict=True):
            p.id, p.key = ids[key], key
    updates = []
    for p in changed_people:
        values = {k: v for k, v in p.changes.items() if k not in ("organisation", "unavailable")}
        if "organisation" in p.changes:
            values["organisation_id"] = plan.organisations[p.organisation].id
        if values:
            updates.append((p.id, values))
    _bulk_update(session, Participant, updates)
    relinked = [p for p in people if "unavailable" in p.changes]
    if relinked:
        session.execute(
            delete(ParticipantUnavailableSlot).where(
                ParticipantUnavailableSlot.participant_id.in_([p.id for p in relinked])
            )
        )
        links = [
            {"participant_id": p.id, "slot_id": sid}
            for p in relinked
            for sid in p.unavailable or []
        ]
        if links:
            session.execute(insert(ParticipantUnavailableSlot), links)
    _apply_wishes(session, event, plan)
    if changed_orgs or changed_people or relinked:
        # Bulk statements bypass `models.bump_serving_generations`: agendas and feeds show
        # names, organisations and availability, so their caches must not be used again.
        session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values(serving_generation=Event.serving_generation + 1)
        )
    session.flush()
    # The ORM's copies of the rows written above are stale.
    session.expire_all()


def _apply_wishes(session: Session, event: Event, plan: ImportPlan) -> None:
    if not plan.wishes:
        return
    ids = {p.email.lower(): p.id for p in plan.participants}
    others = {w.sender for w in plan.wishes} | {w.recipient for w in plan.wishes if w.recipient}
    others -= set(ids)
    if others:
        found = session.execute(
            select(Participant.id, Participant.email).where(
                Participant.event_id == event.id, func.lower(Participant.email).in_(sorted(others))
            )
        )
        ids.update({email.lower(): pid for pid, email in found})
    orgs = {name: o.id for name, o in plan.organisations.items()}
    for org in session.scalars(select(Organisation).where(Organisation.event_id == event.id)):
        orgs.setdefault(_norm_name(org.name).lower(), org.id)
    new = [w for w in plan.wishes if w.id is None]
    if new:
        keys = _new_keys(_keys(session, Wish, event), "w", len(new))
        session.execute(
            insert(Wish),
            [
                {"event_id": event.id, "key": key, "sender_id": ids[w.sender],
                 "recipient_id": ids[w.recipient] if w.recipient else None,
                 "recipient_organisation_id": (
                     orgs[w.recipient_organisation] if w.recipient_organisation else None
                 ),
                 "separate": False, "message": "", **w.changes}
                for w, key in zip(new, keys, strict=True)
            ],
        )  # fmt: skip
    _bulk_update(session, Wish, [(w.id, w.changes) for w in plan.wishes if w.id and w.changes])


def _insert(
    session: Session, model: Any, event: Event, rows: list[dict[str, Any]]
) -> dict[str, int]:
    """INSERT the rows in one executemany; key -> new id (keys are unique within the event,
    and reading them back is much faster than RETURNING row by row on SQLite)."""
    session.connection().execute(insert(model.__table__), rows)
    wanted = {row["key"] for row in rows}
    found = session.execute(select(model.id, model.key).where(model.event_id == event.id))
    return {key: row_id for row_id, key in found if key in wanted}


def _bulk_update(
    session: Session, model: Any, rows: list[tuple[int | None, dict[str, Any]]]
) -> None:
    """UPDATE rows by id, one executemany per set of changed columns."""
    table = model.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in rows:
        columns = {model.__mapper__.attrs[name].columns[0].name: v for name, v in values.items()}
        bound = {"row_id": row_id, **{f"new_{k}": v for k, v in columns.items()}}
        groups.setdefault(tuple(sorted(columns)), []).append(bound)
    for names, params in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in names})
        )
        session.connection().execute(statement, params)


# --- the template -------------------------------------------------------------------------------


def template_csv(sheet: SheetName) -> bytes:
    """A CSV template of one sheet: the columns and one example row (UTF-8 with BOM, so
    spreadsheet programs read the accents right)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS[sheet])
    writer.writerow([EXAMPLE_ROWS[sheet][c] for c in COLUMNS[sheet]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


TEMPLATE_NOTES: Final = (
    "Fill in one row per participant in the sheet participants, and (optional) one row per "
    "wish in the sheet wishes. Replace the example rows.",
    "participants: email, name and organisation are required. A second import with the same "
    "e-mail updates the participant; organisations are matched by name.",
    "Several sectors, offers, seeks or unavailable slots go in one cell, separated by ;",
    "organisation_kind: cluster, company, research, public or other (default company). "
    "country: ISO 3166 code such as DK. attendance: onsite or online. unavailable: slot ids "
    "or start times YYYY-MM-DD HH:MM.",
    "wishes: from is the sender's e-mail; give either to (an e-mail) or to_organisation (an "
    "organisation name). priority 1-3 (default 2); status accepted, requested or declined; "
    "required yes or no.",
    "Empty cells leave stored values unchanged. Formulas are refused: type values.",
)


def template_xlsx() -> bytes:
    """The workbook template: sheets participants, wishes (each with one example row) and
    instructions (ignored on import)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    first = book.active
    book.remove(first)
    for name in ("participants", "wishes"):
        sheet = book.create_sheet(name)
        sheet.append(list(COLUMNS[name]))
        sheet.append([EXAMPLE_ROWS[name][c] or None for c in COLUMNS[name]])
        for cells in sheet.iter_cols(min_row=1, max_row=1):
            cells[0].font = Font(bold=True)
            sheet.column_dimensions[cells[0].column_letter].width = max(14, len(cells[0].value) + 4)
        sheet.freeze_panes = "A2"
    notes = book.create_sheet("instructions")
    for line in TEMPLATE_NOTES:
        notes.append([line])
    notes.column_dimensions["A"].width = 120
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
