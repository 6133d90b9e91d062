"""The MaxSAT peer of the B2B benchmark (benchmarks/b2b_maxsat.py): its encoding must give the
true optimum, or the side-by-side rows compare our solver with a different problem.

Against brute force on small B2B-style events (breaks over several days, sessions, people
away, one or two tables, every fairness cap), and on a real instance through the same
process-and-time-limit path the benchmark runs, against the reference optimum, with every
schedule passing our checker.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import event, given, note, settings

from benchmarks.b2b_maxsat import Unsupported, encode, solve_in_process, solve_rc2
from matchmaking.bundle.dzn import convert_dzn
from matchmaking.bundle.problem import bundle_to_problem
from matchmaking.bundle.validate import parse_bundle
from solver.brute import brute_force
from solver.check import check
from solver.problem import Location, Meeting, Participant, Problem, Slot, Solution, Wish
from tests.solver.test_properties import FAST
from tests.solver.test_retime import all_required

UDG = Path(__file__).resolve().parents[2] / "shared" / "data" / "b2b-udg"


def _meetings(found: dict[str, object]) -> list[Meeting]:
    meetings = found["meetings"]
    assert isinstance(meetings, list)
    return [
        Meeting(tuple(m["wishes"]), m["slot"], m["location"], tuple(m["participants"]), m["kind"])
        for m in meetings
    ]


@pytest.mark.slow
@settings(FAST, max_examples=80)
@given(all_required(orders=False))  # the peer encodes no `after` rules
def test_the_encoding_reaches_the_brute_force_optimum(problem: Problem) -> None:
    note(repr(problem))
    best = brute_force(problem)
    found = solve_in_process(problem)
    if best.status == "infeasible":
        event("no schedule")
        assert found["status"] == "infeasible"
        return
    event(f"fewest breaks {min(int(best.objective['breaks']), 2)}")
    assert found["status"] == "optimal"
    assert found["breaks"] == best.objective["breaks"]
    report = check(problem, Solution("optimal", {}, meetings=_meetings(found)))
    assert [v for v in report.violations if not v.startswith("objective ")] == []
    assert report.objective["breaks"] == found["breaks"]


def test_rules_it_does_not_encode_are_refused() -> None:
    problem = Problem(
        event="b2b",
        slots=(Slot("s1", "am", "d1"), Slot("s2", "am", "d1")),
        locations=(Location("t1"),),
        participants=(Participant("a", "oa"), Participant("b", "ob")),
        wishes=(Wish("w1", "a", "b", required=True),),
    )
    assert len(encode(problem).meetings) == 1
    later = Wish("w2", "b", "a", required=True, separate=True, after=("w1",))
    with pytest.raises(Unsupported, match="w2"):
        encode(dataclasses.replace(problem, wishes=(*problem.wishes, later)))
    with pytest.raises(Unsupported, match="caps"):
        encode(dataclasses.replace(problem, max_meetings_per_participant=3))


@pytest.mark.slow
def test_a_real_instance_gets_its_reference_optimum_through_the_benchmark_path(
    tmp_path: Path,
) -> None:
    name = "tic-12.original"
    with (UDG / "reference-optima-d2.csv").open() as file:
        optimum = next(
            int(row["optimum_total_breaks(MaxSAT, proven)"])
            for row in csv.DictReader(file)
            if row["instance"] == name
        )
    document = convert_dzn(UDG / f"{name}.dzn")
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(document))
    result = solve_rc2(bundle, time_limit=60)
    assert (result.status, result.breaks) == ("optimal", optimum)
    problem = bundle_to_problem(parse_bundle(bundle.read_bytes()))
    report = check(problem, Solution("optimal", {}, meetings=result.meetings))
    assert [v for v in report.violations if not v.startswith("objective ")] == []
    assert report.objective["breaks"] == optimum
    assert len(result.meetings) == len(problem.wishes)  # no mutual wishes in tic-12
