"""The load benchmark's event builder makes a valid bundle and a valid schedule."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from matchmaking.bundle.problem import bundle_to_problem
from matchmaking.bundle.schemas import Bundle
from solver.check import check

BUILDER = Path(__file__).resolve().parents[2] / "benchmarks" / "load" / "build_event.py"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_build_event", BUILDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_greedy_schedule_of_the_load_event_passes_the_independent_checker() -> None:
    builder = _builder()
    bundle = Bundle.model_validate(builder.event_bundle("load-check", 300, seed=3))
    problem = bundle_to_problem(bundle)

    solution = builder.greedy_solution(problem)

    assert check(problem, solution).violations == []
    placed = {wish for meeting in solution.meetings for wish in meeting.wishes}
    missing = {u.wish for u in solution.unscheduled}
    assert placed.isdisjoint(missing)
    assert placed | missing == {wish.id for wish in problem.wishes}
    assert len(solution.meetings) > 2 * len(problem.participants)  # a busy agenda each


def test_same_seed_builds_the_same_event() -> None:
    builder = _builder()
    assert builder.event_bundle("load-a", 50, seed=5) == builder.event_bundle("load-a", 50, seed=5)
