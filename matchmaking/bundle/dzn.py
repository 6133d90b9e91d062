"""The UdG B2B benchmark files (MiniZinc data, `.dzn`) turned into event bundles.

`convert_dzn(path)` reads one of the 20 instances of Bofill et al. (JAIR 2022) and returns a
bundle dict exactly as `docs/bundle-format.md` maps the fields. The file's redundant fields
(`nMeetings`, `meetingsxBusiness`, `nMeetingsBusiness`) are checked against `requested`; a file
where they disagree is refused with `DznError`, because then we cannot tell which one is right.

Only the subset of MiniZinc data the benchmark uses is read: integer scalars, sets of integers
(`{1,2}`, `{}`, ranges `a..b`), one-dimensional arrays (`[...]`) and two-dimensional arrays
(`[| a, b | c, d |]`), with `%` comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

#: Values of a .dzn file: an int, a set of ints, a 1-D array or a 2-D array (list of rows).
DznValue = int | frozenset[int] | list[Any]

#: Plausible times for the converted event; the benchmark only knows slot numbers.
EVENT_DAY = date(2024, 6, 6)
EVENT_TIMEZONE = "Europe/Madrid"
FIRST_SLOT = datetime.combine(EVENT_DAY, datetime.min.time()).replace(hour=9)
MEETING_MINUTES = 20
PAUSE_MINUTES = 5
LUNCH_MINUTES = 60
MAX_BREAK_DIFFERENCE = 2


class DznError(ValueError):
    """A .dzn file that cannot be read or converted; the message says where and why."""


# --- reading MiniZinc data ----------------------------------------------------------------

_TOKEN = re.compile(
    r"(?:(?P<comment>%[^\n]*)|(?P<int>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>\[\||\|\]|\.\.|[\[\]{}|,;=]))"
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    line: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    line = 1
    while True:
        skipped = len(text) - pos - len(text[pos:].lstrip())
        line += text.count("\n", pos, pos + skipped)
        pos += skipped
        if pos >= len(text):
            return tokens
        match = _TOKEN.match(text, pos)
        if match is None:
            raise DznError(f"line {line}: unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "comment":
            tokens.append(_Token(kind, match.group(kind), line))
        pos = match.end()


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            raise DznError(
                f"unexpected end of file{f', expected {expected!r}' if expected else ''}"
            )
        if expected is not None and token.text != expected:
            raise DznError(f"line {token.line}: expected {expected!r}, found {token.text!r}")
        self.pos += 1
        return token

    def assignments(self) -> dict[str, DznValue]:
        values: dict[str, DznValue] = {}
        while self.peek() is not None:
            name = self.take()
            if name.kind != "name":
                raise DznError(f"line {name.line}: expected a name, found {name.text!r}")
            if name.text in values:
                raise DznError(f"line {name.line}: {name.text} is assigned twice")
            self.take("=")
            values[name.text] = self.value()
            self.take(";")
        return values

    def value(self) -> DznValue:
        token = self.take()
        if token.kind == "int":
            start = int(token.text)
            if self._next_is(".."):
                self.take("..")
                return frozenset(range(start, self._int() + 1))
            return start
        if token.text == "{":
            return self._set_items(token)
        if token.text == "[":
            return self._sequence("]")
        if token.text == "[|":
            return self._rows()
        raise DznError(f"line {token.line}: unexpected {token.text!r}")

    def _next_is(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def _int(self) -> int:
        token = self.take()
        if token.kind != "int":
            raise DznError(f"line {token.line}: expected a number, found {token.text!r}")
        return int(token.text)

    def _set_items(self, opening: _Token) -> frozenset[int]:
        items: set[int] = set()
        while not self._next_is("}"):
            low = self._int()
            high = low
            if self._next_is(".."):
                self.take("..")
                high = self._int()
            items.update(range(low, high + 1))
            if not self._next_is("}"):
                self.take(",")
        self.take("}")
        return frozenset(items)

    def _sequence(self, closing: str) -> list[Any]:
        items: list[Any] = []
        while not self._next_is(closing):
            items.append(self.value())
            if not self._next_is(closing):
                self.take(",")
        self.take(closing)
        return items

    def _rows(self) -> list[list[Any]]:
        # `[| a, b, c | d, e, f |]`: rows separated by `|`; a trailing comma is allowed.
        rows: list[list[Any]] = []
        row: list[Any] = []
        while True:
            if self._next_is("|]"):
                self.take("|]")
                if row:
                    rows.append(row)
                return rows
            if self._next_is("|"):
                self.take("|")
                rows.append(row)
                row = []
                continue
            row.append(self.value())
            if self._next_is(","):
                self.take(",")


def parse_dzn(text: str) -> dict[str, DznValue]:
    """All assignments of a MiniZinc data file, by name."""
    return _Parser(_tokens(text)).assignments()


# --- checking the benchmark's fields -------------------------------------------------------


def _scalar(values: dict[str, DznValue], name: str, minimum: int) -> int:
    value = values.get(name)
    if not isinstance(value, int):
        raise DznError(f"{name}: missing or not a number")
    if value < minimum:
        raise DznError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _array(values: dict[str, DznValue], name: str, length: int) -> list[Any]:
    value = values.get(name)
    if not isinstance(value, list):
        raise DznError(f"{name}: missing or not an array")
    if len(value) != length:
        raise DznError(f"{name}: has {len(value)} entries, expected {length}")
    return value


def _set(value: Any, where: str) -> frozenset[int]:
    if not isinstance(value, frozenset):
        raise DznError(f"{where}: expected a set like {{1,2}}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class _Requested:
    sender: int
    recipient: int
    session: int  # 1 morning, 2 afternoon, 3 any


def _requested(values: dict[str, DznValue], businesses: int, has_pm: bool) -> list[_Requested]:
    rows = values.get("requested")
    if not isinstance(rows, list):
        raise DznError("requested: missing or not a 2-D array")
    meetings: list[_Requested] = []
    for k, row in enumerate(rows, start=1):
        if len(row) != 3 or not all(isinstance(v, int) for v in row):
            raise DznError(f"requested row {k}: expected three numbers, got {row!r}")
        a, b, s = row
        for who in (a, b):
            if not 1 <= who <= businesses:
                raise DznError(f"requested row {k}: business {who} is not in 1..{businesses}")
        if a == b:
            raise DznError(f"requested row {k}: business {a} cannot meet itself")
        if s not in (1, 2, 3) or (s == 2 and not has_pm):
            allowed = "1, 2 or 3" if has_pm else "1 or 3 (there is no afternoon)"
            raise DznError(f"requested row {k}: session must be {allowed}, got {s}")
        meetings.append(_Requested(a, b, s))
    return meetings


def _check_meetings_per_business(
    values: dict[str, DznValue], meetings: list[_Requested], businesses: int
) -> None:
    """`meetingsxBusiness` and `nMeetingsBusiness` must say what `requested` says.

    In the published files each set holds k+1 for every meeting k of the business plus the
    placeholder 1 (the model's 0-based meeting index shifted by one), so a set is read as
    {k + 1 : meetings k of the business} ∪ {1}.
    """
    expected: list[set[int]] = [set() for _ in range(businesses)]
    for k, meeting in enumerate(meetings, start=1):
        expected[meeting.sender - 1].add(k)
        expected[meeting.recipient - 1].add(k)
    counts = _array(values, "nMeetingsBusiness", businesses)
    sets = _array(values, "meetingsxBusiness", businesses)
    for i in range(businesses):
        if counts[i] != len(expected[i]):
            raise DznError(
                f"nMeetingsBusiness[{i + 1}] = {counts[i]}, but requested lists "
                f"{len(expected[i])} meetings of business {i + 1}"
            )
        listed = {k - 1 for k in _set(sets[i], f"meetingsxBusiness[{i + 1}]")} - {0}
        if listed != expected[i]:
            missing = sorted(expected[i] - listed)
            extra = sorted(listed - expected[i])
            raise DznError(
                f"meetingsxBusiness[{i + 1}] disagrees with requested for business {i + 1}: "
                f"missing meetings {missing}, extra meetings {extra}"
            )


# --- building the bundle -------------------------------------------------------------------


def _slot_times(total: int, morning: int) -> list[tuple[datetime, datetime]]:
    times: list[tuple[datetime, datetime]] = []
    start = FIRST_SLOT
    for number in range(1, total + 1):
        if number == morning + 1:
            # A lunch pause before the afternoon: not a break (different session, same day).
            start = times[-1][1] + timedelta(minutes=LUNCH_MINUTES)
        end = start + timedelta(minutes=MEETING_MINUTES)
        times.append((start, end))
        start = end + timedelta(minutes=PAUSE_MINUTES)
    return times


def _sessions(total: int, morning: int) -> list[dict[str, Any]]:
    def slot(number: int, times: tuple[datetime, datetime]) -> dict[str, Any]:
        start, end = times
        return {
            "id": f"s{number}",
            "start": start.isoformat(timespec="minutes"),
            "end": end.isoformat(timespec="minutes"),
        }

    times = _slot_times(total, morning)
    slots = [slot(n, times[n - 1]) for n in range(1, total + 1)]
    sessions = [{"id": "am", "name": "Morning", "slots": slots[:morning]}]
    if total > morning:
        sessions.append({"id": "pm", "name": "Afternoon", "slots": slots[morning:]})
    return sessions


def _slot_id(number: int, total: int, where: str) -> str:
    if not 1 <= number <= total:
        raise DznError(f"{where}: slot {number} is not in 1..{total}")
    return f"s{number}"


def _unavailable(values: dict[str, DznValue], businesses: int, total: int) -> list[list[str]]:
    forbidden = _array(values, "forbidden", businesses)
    result: list[list[str]] = []
    for i, entry in enumerate(forbidden, start=1):
        where = f"forbidden[{i}]"
        # 0 is the files' placeholder that keeps a set from being empty.
        numbers = sorted(_set(entry, where) - {0})
        result.append([_slot_id(n, total, where) for n in numbers])
    return result


def _participants(unavailable: list[list[str]]) -> list[dict[str, Any]]:
    """Business i is participant p<i> of its own organisation o<i>."""
    participants = []
    for i, slots in enumerate(unavailable, start=1):
        participant: dict[str, Any] = {
            "id": f"p{i}",
            "name": f"Business {i}",
            "organisation": f"o{i}",
        }
        if slots:
            participant["unavailable"] = slots
        participants.append(participant)
    return participants


def _wishes(
    values: dict[str, DznValue], meetings: list[_Requested], total: int
) -> list[dict[str, Any]]:
    count = len(meetings)
    fixed = _array(values, "fixed", count)
    precedences = _array(values, "precedences", count)
    seen_pairs: set[frozenset[int]] = set()
    wishes: list[dict[str, Any]] = []
    for k, meeting in enumerate(meetings, start=1):
        wish: dict[str, Any] = {
            "id": f"m{k}",
            "from": f"p{meeting.sender}",
            "to": f"p{meeting.recipient}",
            "required": True,
        }
        if meeting.session in (1, 2):
            wish["session"] = "am" if meeting.session == 1 else "pm"
        if not isinstance(fixed[k - 1], int):
            raise DznError(f"fixed[{k}]: expected a number, got {fixed[k - 1]!r}")
        if fixed[k - 1] != 0:
            wish["fixed_slot"] = _slot_id(fixed[k - 1], total, f"fixed[{k}]")
        earlier = sorted(_set(precedences[k - 1], f"precedences[{k}]"))
        for j in earlier:
            if not 1 <= j <= count or j == k:
                raise DznError(
                    f"precedences[{k}]: meeting {j} is not another meeting in 1..{count}"
                )
        if earlier:
            wish["after"] = [f"m{j}" for j in earlier]
        pair = frozenset((meeting.sender, meeting.recipient))
        if pair in seen_pairs:
            # The benchmark holds every requested meeting, also a second one of the same pair.
            wish["separate"] = True
        seen_pairs.add(pair)
        wishes.append(wish)
    return wishes


def _slug(stem: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")
    return (slug or "udg")[:64].ljust(3, "x")


def convert_values(values: dict[str, DznValue], name: str) -> dict[str, Any]:
    """The bundle for parsed .dzn `values` of the instance called `name`."""
    businesses = _scalar(values, "nBusiness", 2)
    tables = _scalar(values, "nTables", 1)
    total = _scalar(values, "nTotalSlots", 1)
    morning = _scalar(values, "nMorningSlots", 0)
    if morning > total:
        raise DznError(f"nMorningSlots: {morning} is more than nTotalSlots ({total})")
    if morning == 0:
        raise DznError("nMorningSlots: 0 morning slots are not supported (session am is needed)")
    meetings = _requested(values, businesses, has_pm=total > morning)
    declared = _scalar(values, "nMeetings", 0)
    if declared != len(meetings):
        raise DznError(f"nMeetings = {declared}, but requested lists {len(meetings)} meetings")
    _check_meetings_per_business(values, meetings, businesses)
    return {
        "format": "matchmaking-bundle/1",
        "event": {
            "slug": _slug(name),
            "name": f"UdG B2B benchmark {name}",
            "timezone": EVENT_TIMEZONE,
            "venue": "Parc Científic i Tecnològic de la Universitat de Girona",
            "mode": "onsite",
            "rules": {
                "max_break_difference": MAX_BREAK_DIFFERENCE,
                "objective": ["required", "breaks"],
            },
        },
        "sessions": _sessions(total, morning),
        "locations": [
            {"id": f"t{n}", "name": f"Table {n}", "kind": "table"} for n in range(1, tables + 1)
        ],
        "organisations": [
            {"id": f"o{i}", "name": f"Business {i}", "kind": "company"}
            for i in range(1, businesses + 1)
        ],
        "participants": _participants(_unavailable(values, businesses, total)),
        "wishes": _wishes(values, meetings, total),
    }


def convert_dzn(path: str | Path) -> dict[str, Any]:
    """The bundle (a dict in the bundle format) for the UdG benchmark file at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DznError(f"{path}: cannot read: {exc}") from exc
    name = path.name.removesuffix(".dzn")
    try:
        return convert_values(parse_dzn(text), name)
    except DznError as exc:
        raise DznError(f"{path.name}: {exc}") from None
