"""The totalizer's "at most k" (solver/totalizer.py) allows exactly the assignments the sum does."""

from __future__ import annotations

import itertools

import pytest
from ortools.sat.python import cp_model

from solver.totalizer import add_at_most_by_totalizer


def _feasible(values: tuple[int, ...], k: int) -> bool:
    model = cp_model.CpModel()
    literals = [model.new_bool_var(f"x{i}") for i in range(len(values))]
    add_at_most_by_totalizer(model, literals, k)
    for literal, value in zip(literals, values, strict=True):
        model.add(literal == value)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    return solver.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
def test_allows_exactly_the_assignments_with_at_most_k_true(n: int) -> None:
    for k in range(n + 1):
        for values in itertools.product((0, 1), repeat=n):
            assert _feasible(values, k) == (sum(values) <= k), (values, k)


def test_counts_how_many_solutions_the_sum_has() -> None:
    # Counters are free above the count, so count over the literals only: C(7,0..3) = 64.
    model = cp_model.CpModel()
    literals = [model.new_bool_var(f"x{i}") for i in range(7)]
    add_at_most_by_totalizer(model, literals, 3)
    found: set[tuple[bool, ...]] = set()

    class Collect(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            found.add(tuple(self.boolean_value(x) for x in literals))

    solver = cp_model.CpSolver()
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.num_workers = 1
    solver.solve(model, Collect())
    assert len(found) == 1 + 7 + 21 + 35
