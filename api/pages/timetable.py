"""The timetable of a schedule version on the organiser's version page, in pieces a person can
read: one session or day at a time, one group of locations at a time (tables, rooms, video
rooms), or the meetings of the participants a search finds.

Only the meetings shown are read from the database, so the page stays quick for events of
thousands of participants.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from matchmaking.platform.models import (
    Event,
    Location,
    LocationKind,
    Meeting,
    Organisation,
    Participant,
    ScheduleVersion,
    Slot,
)
from matchmaking.platform.wording import fold, slot_label

GROUP_NAMES = {
    LocationKind.table: "Tables",
    LocationKind.room: "Rooms",
    LocationKind.online: "Video rooms",
}
#: The most meetings a search lists, and the most participants it names.
SEARCH_MEETINGS = 400
SEARCH_PEOPLE = 50


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class Timetable:
    views: list[Choice]
    view: str
    groups: list[Choice]
    group: str
    q: str
    #: Whether the rows need their day (a view of several days).
    with_day: bool = True
    #: Slots shown (rows) and the locations of the grid (columns; capacity 1 each).
    slots: list[Slot] = field(default_factory=list)
    grid_locations: list[Location] = field(default_factory=list)
    cells: dict[tuple[int, int], Shown] = field(default_factory=dict)
    #: Locations holding several meetings at once: their meetings as lists, slot by slot.
    shared_locations: list[Location] = field(default_factory=list)
    shared: dict[tuple[int, int], list[Shown]] = field(default_factory=dict)
    #: Search: the people found and their meetings in time order.
    found: list[Participant] = field(default_factory=list)
    found_more: bool = False
    results: list[Meeting] = field(default_factory=list)
    results_more: bool = False

    @property
    def view_label(self) -> str:
        return next((c.label for c in self.views if c.value == self.view), "")

    @property
    def group_label(self) -> str:
        return next((c.label for c in self.groups if c.value == self.group), "")


#: The most locations a group shows side by side (a fair has hundreds of tables).
GROUP_SIZE = 40


def location_groups(locations: list[Location]) -> dict[str, tuple[str, list[Location]]]:
    """Groups of locations by kind (tables, rooms, video rooms), in runs of at most
    GROUP_SIZE: value → (label, locations)."""
    groups: dict[str, tuple[str, list[Location]]] = {}
    for kind, name in GROUP_NAMES.items():
        of_kind = [loc for loc in locations if loc.kind == kind]
        runs = [of_kind[i : i + GROUP_SIZE] for i in range(0, len(of_kind), GROUP_SIZE)]
        for n, run in enumerate(runs, start=1):
            if len(runs) == 1:
                groups[kind.value] = (name, run)
            else:
                label = f"{name}: {run[0].name} – {run[-1].name}"
                groups[f"{kind.value}-{n}"] = (label, run)
    return groups


def slot_name(slot: Slot, with_day: bool = True) -> str:
    return slot_label(slot.start, slot.end, with_day=with_day)


def build_timetable(
    db: Session, event: Event, version: ScheduleVersion, params: dict[str, str]
) -> Timetable:
    slots = sorted(event.slots, key=lambda s: (s.start, s.id))
    sessions = sorted(event.sessions, key=lambda s: (s.position, s.id))
    days = sorted({s.start.date() for s in slots})
    views = [Choice(f"s:{s.key}", s.name) for s in sessions if s.slots]
    if len(days) > 1:
        views += [Choice(f"d:{d.isoformat()}", d.strftime("%A %d %B")) for d in days]
    views.append(Choice("all", "Every session"))
    ordered = sorted(event.locations, key=lambda loc: (loc.position, loc.id))
    members = location_groups(ordered)
    groups = [Choice(value, label) for value, (label, _) in members.items()]
    if len(groups) > 1 and len(ordered) <= GROUP_SIZE:
        groups.insert(0, Choice("all", "All locations"))

    view = params.get("view", "")
    if view not in {c.value for c in views}:
        view = views[0].value
    group = params.get("group", "")
    if group not in {c.value for c in groups}:
        # Everything at once while it fits; a fair's hundreds of tables a group at a time.
        group = "all" if len(groups) != 1 and len(ordered) <= GROUP_SIZE else groups[0].value
    table = Timetable(views, view, groups, group, params.get("q", "").strip()[:100])

    if table.q:
        _search(db, event, version, table)
        return table

    table.slots = [s for s in slots if _in_view(s, view, days)]
    table.with_day = len({s.start.date() for s in table.slots}) > 1
    locations = ordered if group == "all" else members[group][1]
    table.grid_locations = [loc for loc in locations if loc.capacity <= 1]
    table.shared_locations = [loc for loc in locations if loc.capacity > 1]
    if not table.slots or not locations:
        return table
    shared_ids = {loc.id for loc in table.shared_locations}
    stacks: dict[tuple[int, int], list[Shown]] = defaultdict(list)
    for meeting in _shown_meetings(
        db,
        Meeting.version_id == version.id,
        Meeting.slot_id.in_([s.id for s in table.slots]),
        Meeting.location_id.in_([loc.id for loc in locations]),
    ):
        key = (meeting.slot_id, meeting.location_id)
        if meeting.location_id in shared_ids:
            stacks[key].append(meeting)
        else:
            table.cells[key] = meeting
    table.shared = dict(stacks)
    return table


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    organisation: str


@dataclass(frozen=True, slots=True)
class Shown:
    """A meeting as the timetable shows it (read as columns: thousands of them stay quick)."""

    slot_id: int
    location_id: int
    uid: str
    kind: str
    a: Person
    b: Person
    #: Pinned by an organiser on the hand-edit page: a re-solve keeps it where it is.
    pinned: bool = False


def _shown_meetings(db: Session, *where: Any) -> list[Shown]:
    a, b = aliased(Participant), aliased(Participant)
    org_a, org_b = aliased(Organisation), aliased(Organisation)
    rows = db.execute(
        select(
            Meeting.slot_id,
            Meeting.location_id,
            Meeting.uid,
            Meeting.kind,
            a.name,
            org_a.name,
            b.name,
            org_b.name,
            Meeting.pinned,
        )
        .join(a, Meeting.participant_a_id == a.id)
        .join(org_a, a.organisation_id == org_a.id)
        .join(b, Meeting.participant_b_id == b.id)
        .join(org_b, b.organisation_id == org_b.id)
        .where(*where)
        .order_by(Meeting.id)
    )
    return [
        Shown(slot, location, uid, kind, Person(an, ao), Person(bn, bo), bool(pinned))
        for slot, location, uid, kind, an, ao, bn, bo, pinned in rows
    ]


def _in_view(slot: Slot, view: str, days: list[date]) -> bool:
    if view == "all":
        return True
    kind, _, value = view.partition(":")
    if kind == "s":
        return slot.session.key == value
    return slot.start.date().isoformat() == value


def _search(db: Session, event: Event, version: ScheduleVersion, table: Timetable) -> None:
    """Participants whose name or organisation holds every word (accents and case ignored),
    and their meetings in this version."""
    words = fold(table.q).split()
    people = db.execute(
        select(Participant.id, Participant.name, Organisation.name)
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .where(Participant.event_id == event.id)
        .order_by(Participant.name, Participant.id)
    ).all()
    ids = [pid for pid, name, org in people if all(w in fold(f"{name} {org}") for w in words)]
    if not ids:
        return
    table.found_more = len(ids) > SEARCH_PEOPLE
    table.found = list(
        db.scalars(
            select(Participant)
            .where(Participant.id.in_(ids[:SEARCH_PEOPLE]))
            .options(selectinload(Participant.organisation))
            .order_by(Participant.name, Participant.id)
        )
    )
    chosen = ids[:SEARCH_PEOPLE]
    meetings = list(
        db.scalars(
            select(Meeting)
            .join(Slot, Meeting.slot_id == Slot.id)
            .where(
                Meeting.version_id == version.id,
                or_(Meeting.participant_a_id.in_(chosen), Meeting.participant_b_id.in_(chosen)),
            )
            .options(
                selectinload(Meeting.slot),
                selectinload(Meeting.location),
                selectinload(Meeting.participant_a).selectinload(Participant.organisation),
                selectinload(Meeting.participant_b).selectinload(Participant.organisation),
            )
            .order_by(Slot.start, Meeting.id)
            .limit(SEARCH_MEETINGS + 1)
        )
    )
    table.results_more = len(meetings) > SEARCH_MEETINGS
    table.results = meetings[:SEARCH_MEETINGS]
