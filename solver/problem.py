"""The solver's input and output: plain, immutable data with no database or web types.

A `Problem` is everything the optimiser needs to build one timetable. It is made by the
domain layer (from the database or from a bundle) and can be pickled and sent to another
process or machine. A `Solution` is what comes back; the domain layer turns it into a
schedule version or a schedule JSON document.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

#: A slot as the caller names it: its id, or its index in `Problem.slots`.
_Slot = TypeVar("_Slot", str, int)

#: Names of the goals, in the default lexicographic order (see docs/design.md).
GOALS: tuple[str, ...] = ("required", "scheduled", "fairness", "breaks", "stability")
DEFAULT_OBJECTIVE: tuple[str, ...] = GOALS

#: Weight a met wish adds to the `scheduled` goal, by priority (1 = must meet).
PRIORITY_WEIGHT: dict[int, int] = {1: 3, 2: 2, 3: 1}

LocationKind = Literal["table", "room", "online"]
OrganisationKind = Literal["cluster", "company", "research", "public", "other"]
SolveStatus = Literal["optimal", "feasible", "infeasible", "unknown"]
MeetingKind = Literal["C2C", "C2B", "B2B"]


@dataclass(frozen=True, slots=True)
class Slot:
    """One meeting slot. `Problem.slots` lists them in chronological order."""

    id: str
    session: str
    #: Calendar day (ISO date, event time zone). Breaks are counted within one day only:
    #: slots are consecutive when they are neighbours in chronological order on that day.
    day: str
    #: Minutes since the first slot's day began (event time zone); for display and checks.
    start_minute: int = 0
    end_minute: int = 0


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    kind: LocationKind = "table"
    #: Meetings it holds at once.
    capacity: int = 1


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    organisation: str
    #: Kind of the participant's organisation; decides the meeting kind (C2C/C2B/B2B).
    organisation_kind: OrganisationKind = "company"
    #: Online participants meet only in `online` locations.
    online: bool = False
    unavailable: frozenset[str] = frozenset()
    #: Own cap; `None` means the event's default cap (which may itself be `None`).
    max_meetings: int | None = None
    #: The participant stays at this location; all its onsite meetings are held there.
    host_location: str | None = None
    #: The delegation (side) the participant attends with, as compared: "" = none.
    delegation: str = ""
    #: Whether the participant may take meetings addressed to its organisation (False while
    #: its membership waits for confirmation); wishes addressed to it in person are unaffected.
    represents_organisation: bool = True


@dataclass(frozen=True, slots=True)
class Wish:
    """An accepted wish: a candidate meeting. Only accepted wishes are put in a Problem."""

    id: str
    sender: str
    #: Exactly one of `recipient` (a participant id) and `recipient_organisation`
    #: (an organisation id: any one of its participants may take the meeting).
    recipient: str | None = None
    recipient_organisation: str | None = None
    priority: int = 2
    required: bool = False
    session: str | None = None
    fixed_slot: str | None = None
    #: Wish ids whose meetings must be held strictly earlier (when they are held).
    after: tuple[str, ...] = ()
    #: A meeting of its own even when the same two participants meet for another wish.
    separate: bool = False
    #: Proposed by the organisers (and accepted by both sides), not sent by `sender`: met
    #: only after every wish the participants sent themselves (see `wish_weights`).
    proposed: bool = False


def wish_weights(wishes: Iterable[Wish]) -> dict[str, int]:
    """Wish id -> the weight a met wish adds to the `scheduled` goal.

    A wish the participants sent themselves weighs `PRIORITY_WEIGHT[priority]`; a proposal
    the organisers made weighs less than any of them, whatever its priority, and so little
    that all proposals together weigh less than one such wish. With P proposals, a proposal
    weighs 1 and a self-sent wish `PRIORITY_WEIGHT[priority] * (P + 1)`: the P proposals
    weigh at most P < P + 1 <= the lightest self-sent wish. So within the one `scheduled`
    goal the order is lexicographic: first the self-sent wishes by priority, exactly as
    without proposals (their weights are only scaled by one factor), then as many proposals
    as fit in what is left. Not a separate goal after `scheduled`: the goals after it
    (fairness, breaks, stability) must not be able to push a proposal out of the schedule
    either way, and a separate level would put fairness between the two. Without proposals
    the weights are `PRIORITY_WEIGHT`'s, unchanged.
    """
    wishes = list(wishes)
    proposals = sum(1 for w in wishes if w.proposed)
    scale = proposals + 1
    return {w.id: 1 if w.proposed else PRIORITY_WEIGHT.get(w.priority, 1) * scale for w in wishes}


@dataclass(frozen=True, slots=True)
class Meeting:
    wishes: tuple[str, ...]
    slot: str
    location: str
    #: The two participants, in the order (sender of the first wish, the other one).
    participants: tuple[str, str]
    kind: MeetingKind


@dataclass(frozen=True, slots=True)
class Problem:
    event: str
    slots: tuple[Slot, ...]
    locations: tuple[Location, ...]
    participants: tuple[Participant, ...]
    wishes: tuple[Wish, ...]
    #: Default cap for participants without their own `max_meetings`.
    max_meetings_per_participant: int | None = None
    #: Cap on the number of meetings of the whole event.
    max_meetings_total: int | None = None
    #: Fairness cap d on breaks (no participant more than d above the one with fewest).
    max_break_difference: int | None = None
    objective: tuple[str, ...] = DEFAULT_OBJECTIVE
    #: The published schedule when re-planning; the `stability` goal keeps these in place.
    published: tuple[Meeting, ...] = ()
    #: Two participants of the same (non-empty) delegation never meet.
    cross_delegation_only: bool = False


def same_delegation(problem: Problem, a: Participant, b: Participant) -> bool:
    """Whether the rule `cross_delegation_only` keeps `a` and `b` from meeting."""
    return problem.cross_delegation_only and bool(a.delegation) and a.delegation == b.delegation


def slots_by_day(problem: Problem) -> list[list[int]]:
    """Indices of `problem.slots` grouped by day (days in the order of their first slot), each
    day's in chronological order: breaks are counted within these lists only."""
    days: dict[str, list[int]] = {}
    for i, slot in enumerate(problem.slots):
        days.setdefault(slot.day, []).append(i)
    return list(days.values())


def breaks_within_days(days: Iterable[Sequence[_Slot]], busy: Collection[_Slot]) -> int:
    """Breaks of one participant busy in `busy`: within each day (its slots in order), every
    gap of one or more free slots between two busy ones."""
    breaks = 0
    for day in days:
        positions = [i for i, slot in enumerate(day) if slot in busy]
        breaks += sum(1 for a, b in itertools.pairwise(positions) if b - a > 1)
    return breaks


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report while solving (throttled by the solver)."""

    goal: str
    #: Best objective value found so far for `goal`, and the best proven bound.
    objective: float | None
    bound: float | None
    elapsed_seconds: float
    #: Share of the time limit used, 0..1.
    time_share: float


@dataclass(slots=True)
class SolveParameters:
    time_limit_seconds: float = 60.0
    workers: int = 2
    #: Reproducible results (fixed seed, deterministic search) for tests.
    deterministic: bool = False
    random_seed: int = 0
    #: Stop a goal's search when the relative gap is below this (0 = prove optimality).
    relative_gap: float = 0.0
    on_progress: Callable[[Progress], None] | None = None
    #: Set to stop the solve early; the best schedule found so far is returned.
    cancel: threading.Event | None = None
    progress_interval_seconds: float = 0.5


@dataclass(frozen=True, slots=True)
class Unscheduled:
    wish: str
    #: Reason code, e.g. no_common_slot, participant_at_cap, lost_to_higher_priority,
    #: location_capacity, required_conflict, ...
    reason: str
    #: A sentence a participant understands.
    detail: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """Part of a small set of required wishes and rules that cannot all hold together."""

    wishes: tuple[str, ...]
    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class Move:
    """How a published meeting changed in a re-plan."""

    wishes: tuple[str, ...]
    change: Literal["moved", "removed", "added"]
    old_slot: str | None = None
    old_location: str | None = None
    new_slot: str | None = None
    new_location: str | None = None


@dataclass(slots=True)
class Solution:
    status: SolveStatus
    #: Achieved value of each goal: required (unmet required wishes), scheduled (met wishes),
    #: scheduled_weight, min_share, breaks, moved.
    objective: dict[str, float] = field(default_factory=dict)
    #: Best proven bound for each optimised goal.
    bound: dict[str, float] = field(default_factory=dict)
    solve_seconds: float = 0.0
    meetings: list[Meeting] = field(default_factory=list)
    unscheduled: list[Unscheduled] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    cancelled: bool = False
