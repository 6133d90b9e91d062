"""Conflicts among required wishes: the causes visible without a solver first, then a minimal
core of the CP-SAT feasibility model (solver/explain/required_model.py)."""

from __future__ import annotations

from collections import defaultdict

from solver.check import EventIndex
from solver.explain.reasons import static_reason
from solver.explain.required_model import RequiredModel
from solver.problem import Conflict, Problem, Wish


def find_conflicts(problem: Problem, time_limit_seconds: float = 10.0) -> list[Conflict]:
    """A small set of required wishes and rules that cannot all hold; [] if none is found."""
    index = EventIndex(problem)
    required = [w for w in problem.wishes if w.required]
    if not required:
        return []
    obvious = _obvious_conflicts(index, required)
    if obvious:
        return obvious
    return RequiredModel(index, required).minimal_conflicts(time_limit_seconds)


def _obvious_conflicts(index: EventIndex, required: list[Wish]) -> list[Conflict]:
    """Causes visible without a solver: a wish with no time or place, a participant overbooked."""
    out = []
    for wish in required:
        reason = static_reason(index, wish)
        if reason is not None:
            out.append(Conflict((wish.id,), reason[0], f"required wish {wish.id}: {reason[1]}"))
    if out:
        return out
    for person, wishes in sorted(_required_meetings_of(required).items()):
        meetings = len(wishes)
        ids = tuple(sorted({w for group in wishes for w in group}))
        cap = index.cap(person)
        free = sum(s.id not in index.participants[person].unavailable for s in index.problem.slots)
        if cap is not None and meetings > cap:
            out.append(
                Conflict(
                    ids,
                    "participant_cap",
                    f"{person} must hold {meetings} required meetings ({', '.join(ids)}) "
                    f"but may hold at most {cap}",
                )
            )
        elif meetings > free:
            out.append(
                Conflict(
                    ids,
                    "not_enough_slots",
                    f"{person} must hold {meetings} required meetings ({', '.join(ids)}) "
                    f"but is available in only {free} slots",
                )
            )
    return out


def _required_meetings_of(required: list[Wish]) -> dict[str, list[tuple[str, ...]]]:
    """The meetings each participant must hold for personal required wishes, as wish groups.

    Wishes that are not separate between one pair share a meeting; wishes to an organisation
    are left out (their meeting may merge with another), so the counts are lower bounds.
    """
    groups: dict[tuple[frozenset[str], str], list[str]] = defaultdict(list)
    for w in required:
        if w.recipient is None:
            continue
        key = w.id if w.separate else ""
        groups[(frozenset((w.sender, w.recipient)), key)].append(w.id)
    per_person: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for (pair, _), ids in groups.items():
        for person in pair:
            per_person[person].append(tuple(ids))
    return per_person
