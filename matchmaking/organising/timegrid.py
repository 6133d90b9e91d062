"""The time grid of an event: slot times are local wall-clock times in the event's zone.

One place checks what every write of slots must respect (bundle import, the API's slot
editing and slot generation): the zone is a real IANA zone, each slot ends after it starts,
no local time falls into a daylight-saving gap (such a wall-clock time never happens), and
no two slots of an event overlap. Overlaps are judged on real instants, so a slot in the
repeated hour of a fall-back night is compared correctly with its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The checks themselves need no database: bundle validation (`matchmaking solve-file`) uses
# them without loading SQLAlchemy and the models, which take a good part of a second.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from matchmaking.platform.models import Event

#: The years slot times may fall in. Far from the ends of date arithmetic (years 1 and 9999),
#: so converting a slot with any zone's offset never overflows.
SLOT_YEARS = (2000, 2100)


@dataclass(frozen=True, slots=True)
class SlotTimes:
    """A slot as the checks see it: its key and naive local start and end."""

    key: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SlotProblem:
    """What is wrong with the slot at `index` (of the sequence checked), and in which field."""

    index: int
    field: str
    message: str


class TimeGridError(ValueError):
    """Slots that cannot be stored; `problems` lists every one found."""

    def __init__(self, problems: Sequence[SlotProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"slot {p.index} {p.field}: {p.message}" for p in problems))


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or ValueError saying it is unknown."""
    if not name or name != name.strip() or name.startswith(("/", ".")):
        raise ValueError(f'"{name}" is not an IANA time zone name')
    try:
        return ZoneInfo(name)
    # OSError: a name too long for a file name of the zone database ("File name too long").
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        message = f'"{name}" is not an IANA time zone name (e.g. "Europe/Brussels")'
        raise ValueError(message) from error


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except ValueError:
        return False
    return True


def local_time_exists(local: datetime, tz: ZoneInfo) -> bool:
    """False for a wall-clock time skipped by a daylight-saving jump (e.g. 02:30 in spring)."""
    aware = local.replace(tzinfo=tz)
    round_trip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return round_trip == local.replace(tzinfo=None)


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant of a naive local time; the earlier one for a time repeated at fall-back."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def slot_problems(timezone: str, slots: Sequence[SlotTimes]) -> list[SlotProblem]:
    """Every problem of `slots` in the zone `timezone`, empty when they can be stored.

    A bad zone is reported as a problem of index -1, field "timezone".
    """
    try:
        tz = zone(timezone)
    except ValueError as error:
        return [SlotProblem(-1, "timezone", str(error))]
    problems: list[SlotProblem] = []
    valid: list[tuple[datetime, datetime, int]] = []
    for index, slot in enumerate(slots):
        own = _own_problems(index, slot, tz)
        problems.extend(own)
        if not own:
            valid.append((to_utc(slot.start, tz), to_utc(slot.end, tz), index))
    problems.extend(_overlaps(slots, valid))
    return sorted(problems, key=lambda p: (p.index, p.field))


def check_slots(timezone: str, slots: Sequence[SlotTimes]) -> None:
    """Raise TimeGridError listing every problem of `slots` (see `slot_problems`)."""
    problems = slot_problems(timezone, slots)
    if problems:
        raise TimeGridError(problems)


def _own_problems(index: int, slot: SlotTimes, tz: ZoneInfo) -> list[SlotProblem]:
    problems = []
    for field, value in (("start", slot.start), ("end", slot.end)):
        if not SLOT_YEARS[0] <= value.year <= SLOT_YEARS[1]:
            problems.append(
                SlotProblem(
                    index, field, f"must be in the years {SLOT_YEARS[0]} to {SLOT_YEARS[1]}"
                )
            )
        elif value.tzinfo is not None:
            problems.append(SlotProblem(index, field, "must be a local time without an offset"))
        elif not local_time_exists(value, tz):
            problems.append(
                SlotProblem(
                    index,
                    field,
                    f"{value.isoformat(timespec='minutes')} does not exist in {tz.key} "
                    "(clocks jump forward over it)",
                )
            )
    if not problems and slot.end <= slot.start:
        problems.append(SlotProblem(index, "end", "must be after the slot's start"))
    return problems


def _overlaps(
    slots: Sequence[SlotTimes], valid: list[tuple[datetime, datetime, int]]
) -> list[SlotProblem]:
    # Sorted by start, a slot overlaps an earlier one exactly when it starts before the latest
    # end seen so far; naming that slot keeps the message actionable.
    problems = []
    latest: tuple[datetime, int] | None = None
    for start, end, index in sorted(valid):
        if latest is not None and start < latest[0]:
            other = slots[latest[1]]
            problems.append(
                SlotProblem(
                    index,
                    "start",
                    f'slot "{slots[index].key}" overlaps slot "{other.key}" '
                    f"({other.start.isoformat(timespec='minutes')}–"
                    f"{other.end.isoformat(timespec='minutes')})",
                )
            )
        if latest is None or end > latest[0]:
            latest = (end, index)
    return problems


def check_event_slots(session: Session, event: Event) -> None:
    """Check every slot the event has in `session` (flushed or pending) before a commit.

    The API calls this after adding or editing slots, bundle import after adding them; a
    TimeGridError then means the transaction must be rolled back.
    """
    from sqlalchemy import select

    from matchmaking.platform.models import Slot

    session.flush()
    slots = session.scalars(
        select(Slot).where(Slot.event_id == event.id).order_by(Slot.start, Slot.id)
    ).all()
    check_slots(event.timezone, [SlotTimes(s.key, s.start, s.end) for s in slots])
