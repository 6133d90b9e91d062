"""The one encoding of busy slots and runs of meetings (solver/runs.py) that every break count
shares: on every busy pattern of a day it counts what the checker counts."""

from __future__ import annotations

import itertools

from ortools.sat.python import cp_model

from solver.runs import busy_literal, day_runs


def breaks_by_hand(pattern: tuple[int | None, ...]) -> int:
    """Runs of busy slots minus one (0 on a day without meetings); None is never busy."""
    busy = [b == 1 for b in pattern]
    runs = sum(1 for t, now in enumerate(busy) if now and (t == 0 or not busy[t - 1]))
    return max(runs - 1, 0)


def test_day_runs_count_every_pattern_exactly() -> None:
    for n in range(1, 6):
        for pattern in itertools.product((0, 1, None), repeat=n):
            if all(b is None for b in pattern):
                continue  # a day the participant cannot meet is left out by every caller
            model = cp_model.CpModel()
            day = [
                None if b is None else model.new_bool_var(f"busy{t}") for t, b in enumerate(pattern)
            ]
            for literal, b in zip(day, pattern, strict=True):
                if literal is not None:
                    model.add(literal == b)
            runs = day_runs(model, day)
            breaks = model.new_int_var(0, n, "breaks")
            model.add(breaks == runs.breaks)
            # The busy pattern decides the count: its least and its greatest value agree.
            for direction in (model.minimize, model.maximize):
                direction(breaks)
                solver = cp_model.CpSolver()
                assert solver.solve(model) == cp_model.OPTIMAL, pattern
                assert solver.value(breaks) == breaks_by_hand(pattern), pattern
                assert solver.value(runs.meets_today) == int(1 in pattern), pattern


def test_busy_literal_is_the_meeting_itself_or_one_of_several() -> None:
    model = cp_model.CpModel()
    a, b = model.new_bool_var("a"), model.new_bool_var("b")
    assert busy_literal(model, [a]) is a
    busy = busy_literal(model, [a, b])
    model.add(a == 1)
    solver = cp_model.CpSolver()
    assert solver.solve(model) == cp_model.OPTIMAL
    assert solver.value(busy) == 1
    assert solver.value(b) == 0  # one meeting per participant and slot
