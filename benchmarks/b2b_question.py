"""One question of the breaks climb, timed alone: "a schedule with at most B breaks?" on the
compact re-timing model (solver/retime.py) of one B2B instance, asked once per seed on one
LP-free worker with light presolve, as the climb asks it (solver/solve.py, `_Rung`).

    .venv/bin/python benchmarks/b2b_question.py ticf-13crafb 3 --seeds 1 2 3 4 5 6
    .venv/bin/python benchmarks/b2b_question.py ticf-13crafb 3 --seeds 1 2 3 --true-first

Prints one line per seed: the answer (OPTIMAL is "yes", INFEASIBLE "no", UNKNOWN out of time)
and the wall time, model building included. `--true-first` tries each literal true first
(CP-SAT's `initial_polarity`), the climb's default being false first.
"""

from __future__ import annotations

import argparse
import json
import time

import repo_root  # noqa: F401  (puts the repository on the path)
from ortools.sat.python import cp_model

from benchmarks.b2b_udg import DATA
from matchmaking.bundle.dzn import convert_dzn
from matchmaking.bundle.problem import bundle_to_problem
from matchmaking.bundle.validate import parse_bundle
from solver.candidates import build_candidates
from solver.retime import fixed_meeting_set, retime_model
from solver.solve import presolve_lightly, search_without_lp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance", help="e.g. ticf-13crafb (without .original.dzn)")
    parser.add_argument("breaks", type=int, help="the question's B: at most B breaks in all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--true-first", action="store_true")
    args = parser.parse_args()
    path = DATA / f"{args.instance}.original.dzn"
    if not path.exists():
        parser.error(f"instance: no file {path}")
    problem = bundle_to_problem(parse_bundle(json.dumps(convert_dzn(path)).encode()))
    candidates = build_candidates(problem)
    meetings = fixed_meeting_set(problem, candidates)
    if meetings is None:
        parser.error("instance: not every meeting is fixed, so there is no re-timing question")
    for seed in args.seeds:
        started = time.perf_counter()
        question = retime_model(
            problem, meetings, candidates.capacity, args.breaks, problem.max_break_difference
        )
        solver = cp_model.CpSolver()
        parameters = solver.parameters
        parameters.num_workers = 1
        parameters.max_time_in_seconds = args.time_limit
        parameters.random_seed = seed
        search_without_lp(parameters)
        presolve_lightly(parameters)
        if args.true_first:
            parameters.initial_polarity = parameters.POLARITY_TRUE
        status = solver.solve(question.model)
        seconds = time.perf_counter() - started
        print(
            f"{args.instance} at most {args.breaks}: seed {seed} "
            f"{solver.status_name(status)} {seconds:.2f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
