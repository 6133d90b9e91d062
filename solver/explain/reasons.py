"""Reasons for the accepted wishes a schedule leaves out: a code and a sentence each, found by
asking whether the wish could be added with every other meeting left where it is (see
solver/explain/__init__.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.check import EventIndex
from solver.explain.timetable import Timetable, any_suitable_location, static_slots, wish_weight
from solver.problem import Meeting, Problem, Unscheduled, Wish


@dataclass(frozen=True, slots=True)
class _Placement:
    """One (partner, slot) where the wish could go, and what stands in the way there."""

    partner: str
    slot: str
    busy: tuple[Meeting, ...]
    location_full: bool
    order: bool

    @property
    def free(self) -> bool:
        return not self.busy and not self.location_full and not self.order


def explain_unscheduled(problem: Problem, meetings: Sequence[Meeting]) -> list[Unscheduled]:
    """A reason code and a sentence for every accepted wish that `meetings` leave out."""
    index = EventIndex(problem)
    table = Timetable(index, meetings)
    return [_explain(index, table, wish) for wish in problem.wishes if wish.id not in table.slot_of]


def _explain(index: EventIndex, table: Timetable, wish: Wish) -> Unscheduled:
    reason = (
        static_reason(index, wish)
        or _already_meeting(index, table, wish)
        or _placement_reason(index, table, wish)
    )
    return Unscheduled(wish.id, reason[0], reason[1])


def _who(index: EventIndex, wish: Wish) -> str:
    if wish.recipient is not None:
        return f"{wish.sender} and {wish.recipient}"
    return f"{wish.sender} and the representatives of {wish.recipient_organisation}"


def _within(wish: Wish) -> str:
    if wish.fixed_slot is not None:
        return f" in slot {wish.fixed_slot}, the time this meeting is fixed to"
    if wish.session is not None:
        return f" in session {wish.session}, the session this meeting must be in"
    return ""


def static_reason(index: EventIndex, wish: Wish) -> tuple[str, str] | None:
    """Reasons that hold whatever the schedule: nobody to meet, no common time, no place."""
    partners = index.candidates(wish)
    everyone = index.recipients(wish)
    if everyone and not partners:
        return (
            "same_delegation",
            f"{_who(index, wish)} attend with the same delegation "
            f"({index.participants[wish.sender].delegation}), and the event's rule "
            "cross_delegation_only allows meetings between delegations only",
        )
    if not partners:
        return (
            "no_common_slot",
            f"organisation {wish.recipient_organisation} has no other representative "
            f"taking part whom {wish.sender} could meet",
        )
    placeable = [p for p in partners if any_suitable_location(index, wish.sender, p)]
    if not placeable:
        return ("no_suitable_location", _no_location_sentence(index, wish, partners[0]))
    if not any(static_slots(index, wish, p) for p in placeable):
        return (
            "no_common_slot",
            f"{_who(index, wish)} share no slot in which both are available{_within(wish)}",
        )
    return None


def _no_location_sentence(index: EventIndex, wish: Wish, partner: str) -> str:
    if index.is_online_pair(wish.sender, partner):
        return f"{wish.sender} and {partner} must meet online, but the event has no online room"
    hosts = [p for p in (wish.sender, partner) if index.participants[p].host_location]
    if len(hosts) == 2:
        return f"{wish.sender} and {partner} each host meetings at their own, different locations"
    return f"the event has no table or room where {wish.sender} and {partner} can meet"


def _pair_meeting(table: Timetable, wish: Wish, partner: str) -> Meeting | None:
    """The meeting the two already hold for wishes that are not separate (the pair rule)."""
    if wish.separate:
        return None
    i = table.shared.get(frozenset((wish.sender, partner)))
    return None if i is None else table.meetings[i]


def _already_meeting(index: EventIndex, table: Timetable, wish: Wish) -> tuple[str, str] | None:
    """A wish that is not separate cannot add a second meeting between the same two people;
    it can only join the meeting they hold, if that meeting's time suits it."""
    partners = [
        p
        for p in index.candidates(wish)
        if any_suitable_location(index, wish.sender, p) and static_slots(index, wish, p)
    ]
    held = [(p, m) for p in partners if (m := _pair_meeting(table, wish, p)) is not None]
    if not held or len(held) < len(partners):
        return None
    partner, m = held[0]
    if m.slot in index.allowed_slots(wish) and table.order_allows(wish, m.slot):
        return (
            "not_found",
            f"{wish.sender} and {partner} already meet in slot {m.slot} (wish "
            f"{', '.join(m.wishes)}); this wish could have joined that meeting",
        )
    if wish.recipient is None:
        return (
            "organisation_already_met",
            f"{wish.sender} already meets {partner} of organisation "
            f"{wish.recipient_organisation} in slot {m.slot} (wish {', '.join(m.wishes)}), "
            "at a time this wish does not allow",
        )
    return (
        "already_meeting",
        f"{wish.sender} and {partner} already meet in slot {m.slot} for wish "
        f"{', '.join(m.wishes)}, at a time this wish does not allow; a pair meets once",
    )


def _placements(
    index: EventIndex, table: Timetable, wish: Wish, partners: list[str]
) -> list[_Placement]:
    out = []
    for partner in partners:
        for slot in static_slots(index, wish, partner):
            busy = tuple(
                m for p in (wish.sender, partner) if (m := table.busy_with(p, slot)) is not None
            )
            full = table.free_location(slot, wish.sender, partner) is None
            out.append(_Placement(partner, slot, busy, full, not table.order_allows(wish, slot)))
    return out


def _placement_reason(index: EventIndex, table: Timetable, wish: Wish) -> tuple[str, str]:
    # A side at its cap could only take this meeting by dropping another, wherever it goes.
    if table.at_cap(wish.sender):
        return _at_cap(index, wish.sender)
    partners = [
        p
        for p in index.candidates(wish)
        if any_suitable_location(index, wish.sender, p)
        and static_slots(index, wish, p)
        and _pair_meeting(table, wish, p) is None
    ]
    open_partners = [p for p in partners if not table.at_cap(p)]
    if not open_partners:
        return _at_cap(index, partners[0])
    places = _placements(index, table, wish, open_partners)
    free = [pl for pl in places if pl.free]
    if free:
        return _free_but_refused(index, table, wish, free)
    if wish.fixed_slot is not None:
        return (
            "fixed_slot_taken",
            _blocked_sentence(wish, places[0], f"its fixed slot {wish.fixed_slot}"),
        )
    only_order = [pl for pl in places if pl.order and not pl.busy and not pl.location_full]
    if only_order:
        return ("precedence", _order_sentence(wish))
    only_location = [pl for pl in places if pl.location_full and not pl.busy]
    if only_location:
        slots = ", ".join(
            sorted({pl.slot for pl in only_location}, key=index.slot_position.__getitem__)
        )
        return (
            "location_capacity",
            f"{_who(index, wish)} are both free in {slots}, but every suitable "
            "table or room is taken then",
        )
    weight = wish_weight(wish)
    if all(sum(_meeting_weight(index, m) for m in pl.busy) >= weight for pl in places):
        return (
            "lost_to_higher_priority",
            f"whenever {_who(index, wish)} could meet, one of them already has a meeting "
            "of the same or higher priority",
        )
    return (
        "participants_busy",
        f"whenever {_who(index, wish)} could meet, one of them already has another meeting",
    )


def _meeting_weight(index: EventIndex, meeting: Meeting) -> int:
    return sum(wish_weight(index.wishes[w]) for w in meeting.wishes)


def _free_but_refused(
    index: EventIndex, table: Timetable, wish: Wish, free: list[_Placement]
) -> tuple[str, str]:
    """A free place exists; only the event cap, the break limit or the goals can refuse it."""
    if table.event_full():
        total = index.problem.max_meetings_total
        return ("event_cap", f"the event already holds its maximum of {total} meetings")
    if not any(table.breaks_allow(wish.sender, pl.partner, pl.slot) for pl in free):
        return (
            "breaks_limit",
            f"every free time for {_who(index, wish)} would give one of them more breaks "
            "between meetings than the event's fairness limit allows",
        )
    ahead = _goals_ranked_above_scheduled(index.problem)
    if ahead:
        return (
            "fairness" if "fairness" in ahead else "objective_order",
            "a time was free, but adding this meeting would worsen a goal the event ranks "
            f"higher ({', '.join(ahead)})",
        )
    slots = ", ".join(pl.slot for pl in free[:3])
    return (
        "not_found",
        f"{_who(index, wish)} were both free (e.g. {slots}); the scheduler stopped before "
        "placing this meeting",
    )


def _goals_ranked_above_scheduled(problem: Problem) -> list[str]:
    goals = [g for g in problem.objective if g != "required"]
    return goals[: goals.index("scheduled")] if "scheduled" in goals else goals


def _meetings(n: int | None) -> str:
    return "1 meeting" if n == 1 else f"{n} meetings"


def _at_cap(index: EventIndex, person: str) -> tuple[str, str]:
    return (
        "participant_at_cap",
        f"{person} already has {_meetings(index.cap(person))}, the most allowed, so this one "
        "could only be added by dropping one of them",
    )


def _blocked_sentence(wish: Wish, place: _Placement, what: str) -> str:
    if place.busy:
        people = sorted(
            {p for m in place.busy for p in m.participants} & {wish.sender, place.partner}
        )
        has = "already has a meeting" if len(people) == 1 else "already have meetings"
        return f"{what} is taken: {' and '.join(people)} {has} then"
    if place.location_full:
        return f"{what} is taken: every suitable table or room is in use then"
    return f"{what} conflicts with the order of meetings this wish must follow"


def _order_sentence(wish: Wish) -> str:
    if wish.after:
        return (
            f"it must come after the meeting for wish {', '.join(wish.after)}, "
            "and no time that fits that order is free"
        )
    return "other meetings must come after it, and no time that fits that order is free"
