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

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from matchmaking.models import (
    Event,
    Location,
    LocationKind,
    Meeting,
    Organisation,
    Participant,
    ScheduleVersion,
    Slot,
)
from matchmaking.wording import fold, slot_label

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
    #: Slots shown (rows) and the locations of the grid (columns; capacity 1 each).
    slots: list[Slot] = field(default_factory=list)
    grid_locations: list[Location] = field(default_factory=list)
    cells: dict[tuple[int, int], Meeting] = field(default_factory=dict)
    #: Locations holding several meetings at once: their meetings as lists, slot by slot.
    shared_locations: list[Location] = field(default_factory=list)
    shared: dict[tuple[int, int], list[Meeting]] = field(default_factory=dict)
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


def slot_name(slot: Slot) -> str:
    return slot_label(slot.start, slot.end)


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
    kinds = [k for k in GROUP_NAMES if any(loc.kind == k for loc in event.locations)]
    groups = [Choice(k.value, GROUP_NAMES[k]) for k in kinds]
    if len(groups) > 1:
        groups.append(Choice("all", "All locations"))

    view = params.get("view", "")
    if view not in {c.value for c in views}:
        view = views[0].value
    group = params.get("group", "")
    if group not in {c.value for c in groups}:
        group = groups[0].value if groups else "all"
    table = Timetable(views, view, groups, group, params.get("q", "").strip()[:100])

    if table.q:
        _search(db, event, version, table)
        return table

    table.slots = [s for s in slots if _in_view(s, view, days)]
    locations = [
        loc
        for loc in sorted(event.locations, key=lambda loc: (loc.position, loc.id))
        if group == "all" or loc.kind.value == group
    ]
    table.grid_locations = [loc for loc in locations if loc.capacity <= 1]
    table.shared_locations = [loc for loc in locations if loc.capacity > 1]
    if not table.slots or not locations:
        return table
    query = (
        select(Meeting)
        .where(
            Meeting.version_id == version.id,
            Meeting.slot_id.in_([s.id for s in table.slots]),
            Meeting.location_id.in_([loc.id for loc in locations]),
        )
        .options(
            selectinload(Meeting.participant_a).selectinload(Participant.organisation),
            selectinload(Meeting.participant_b).selectinload(Participant.organisation),
        )
        .order_by(Meeting.id)
    )
    shared_ids = {loc.id for loc in table.shared_locations}
    stacks: dict[tuple[int, int], list[Meeting]] = defaultdict(list)
    for meeting in db.scalars(query):
        key = (meeting.slot_id, meeting.location_id)
        if meeting.location_id in shared_ids:
            stacks[key].append(meeting)
        else:
            table.cells[key] = meeting
    table.shared = dict(stacks)
    return table


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
