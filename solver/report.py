"""What a schedule achieves, measured on the meetings themselves (not read from the model).

Used to fill `Solution.objective` and `Solution.moves`; `solver/check.py` recomputes the same
values independently.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from solver.problem import (
    Meeting,
    MeetingKind,
    Move,
    Participant,
    Problem,
    wish_weights,
)


def meeting_kind(a: Participant, b: Participant) -> MeetingKind:
    clusters = (a.organisation_kind == "cluster") + (b.organisation_kind == "cluster")
    return ("B2B", "C2B", "C2C")[clusters]


def breaks_per_participant(problem: Problem, meetings: list[Meeting]) -> dict[str, int]:
    """Runs of free slots between two meetings of a participant on the same day."""
    position = {s.id: i for i, s in enumerate(problem.slots)}
    busy: dict[str, set[int]] = defaultdict(set)
    for meeting in meetings:
        for person in meeting.participants:
            busy[person].add(position[meeting.slot])
    breaks = {}
    for person, slots in busy.items():
        count = 0
        ordered = sorted(slots)
        for before, after in itertools.pairwise(ordered):
            same_day = problem.slots[before].day == problem.slots[after].day
            count += same_day and after > before + 1
        breaks[person] = count
    return breaks


def min_share(problem: Problem, met: set[str]) -> float:
    mine: dict[str, list[str]] = defaultdict(list)
    for wish in problem.wishes:
        mine[wish.sender].append(wish.id)
        if wish.recipient is not None and wish.recipient != wish.sender:
            mine[wish.recipient].append(wish.id)
    shares = [sum(w in met for w in wishes) / len(wishes) for wishes in mine.values()]
    return min(shares, default=1.0)


def measure_objective(problem: Problem, meetings: list[Meeting]) -> dict[str, float]:
    met = {w for m in meetings for w in m.wishes}
    return {
        "required": sum(1 for w in problem.wishes if w.required and w.id not in met),
        "scheduled": len(met),
        "scheduled_weight": sum(
            weight for key, weight in wish_weights(problem.wishes).items() if key in met
        ),
        "min_share": round(min_share(problem, met), 6),
        "breaks": sum(breaks_per_participant(problem, meetings).values()),
        "moved": sum(
            1 for move in moves_against_published(problem, meetings) if move.change != "added"
        ),
    }


def moves_against_published(problem: Problem, meetings: list[Meeting]) -> list[Move]:
    """Published meetings that moved or vanished, and meetings that are new.

    A published meeting stays when a meeting of the same two participants shares one of its
    wishes; it is `moved` when that meeting has another slot or location.
    """
    if not problem.published:
        return []
    moves = []
    continued: set[int] = set()
    for old in problem.published:
        pair, wishes = frozenset(old.participants), set(old.wishes)
        same = [
            (i, m)
            for i, m in enumerate(meetings)
            if frozenset(m.participants) == pair and wishes & set(m.wishes)
        ]
        if not same:
            moves.append(Move(old.wishes, "removed", old.slot, old.location))
            continue
        i, new = next(((i, m) for i, m in same if m.slot == old.slot), same[0])
        continued.add(i)
        if (new.slot, new.location) != (old.slot, old.location):
            moves.append(Move(new.wishes, "moved", old.slot, old.location, new.slot, new.location))
    for i, new in enumerate(meetings):
        if i not in continued:
            moves.append(Move(new.wishes, "added", new_slot=new.slot, new_location=new.location))
    return moves


def objective_key(problem: Problem, objective: dict[str, float]) -> tuple[float, ...]:
    """Larger is better: required wishes first, then the event's goals in its order."""
    terms = {
        "scheduled": objective["scheduled_weight"],
        "fairness": objective["min_share"],
        "breaks": -objective["breaks"],
        "stability": -objective["moved"],
    }
    return (-objective["required"], *(terms[g] for g in problem.objective if g in terms))
