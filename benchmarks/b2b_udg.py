"""The B2B benchmark: the 20 UdG instances through the shipped path, against proven optima.

Each instance goes the way `matchmaking convert-dzn` + `matchmaking solve-file` take it (the
same functions, in process): .dzn -> bundle -> validated Bundle -> Problem -> solve ->
schedule document. Every schedule is verified by the independent checker (`solver.check`).

    .venv/bin/python benchmarks/b2b_udg.py [--time-limit 25] [--workers 2] [--repeat 1]
        [--only tic-12.original ...] [--out benchmarks/results]

Writes b2b_udg.md, b2b_udg.csv and b2b_udg.json under --out. Wall time is what a user waits;
CPU time and the load average are recorded too, because a shared machine slows a solve down
without changing how much work it did.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from matchmaking.bundle.dzn import convert_dzn  # noqa: E402
from matchmaking.bundle.problem import bundle_to_problem, solution_to_schedule  # noqa: E402
from matchmaking.bundle.validate import parse_bundle  # noqa: E402
from solver import SolveParameters, solve  # noqa: E402
from solver.check import check  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "b2b-udg"
OPTIMUM_COLUMN = "optimum_total_breaks(MaxSAT, proven)"


@dataclass
class Run:
    instance: str
    breaks: float | None
    optimum: int
    bound: float | None
    status: str
    seconds: float
    cpu_seconds: float
    violations: int


def reference_optima() -> dict[str, tuple[int, str]]:
    with (DATA / "reference-optima-d2.csv").open() as file:
        return {
            row["instance"]: (int(row[OPTIMUM_COLUMN]), row["maxsat_uwrmaxsat_s"])
            for row in csv.DictReader(file)
        }


def run_instance(name: str, optimum: int, time_limit: float, workers: int) -> Run:
    bundle = parse_bundle(json.dumps(convert_dzn(DATA / f"{name}.dzn")).encode())
    problem = bundle_to_problem(bundle)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    started = time.perf_counter()
    solution = solve(problem, SolveParameters(time_limit_seconds=time_limit, workers=workers))
    seconds = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu_before
    schedule = solution_to_schedule(bundle, problem, solution)
    violations = check(problem, solution).violations if solution.meetings else []
    for violation in violations:
        print(f"  {name}: {violation}", file=sys.stderr)
    return Run(
        instance=name,
        breaks=schedule["objective"].get("breaks"),
        optimum=optimum,
        bound=schedule.get("bound", {}).get("breaks"),
        status=schedule["status"],
        seconds=round(seconds, 2),
        cpu_seconds=round(cpu, 2),
        violations=len(violations),
    )


def median_run(runs: list[Run]) -> Run:
    """The run with the median wall time (its own breaks and status, not a blend)."""
    ordered = sorted(runs, key=lambda r: r.seconds)
    return ordered[len(ordered) // 2]


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores (nproc), {model}"


def markdown(runs: list[Run], reference: dict[str, tuple[int, str]], header: str) -> str:
    lines = [
        header,
        "",
        "| instance | our breaks | proven optimum | bound | status | time (s) | CPU (s) "
        "| MaxSAT in paper (s) |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in runs:
        breaks = "—" if r.breaks is None else f"{r.breaks:g}"
        bound = "—" if r.bound is None else f"{r.bound:g}"
        mark = "" if r.breaks == r.optimum and r.status == "optimal" else " ✗"
        lines.append(
            f"| {r.instance} | {breaks}{mark} | {r.optimum} | {bound} | {r.status} "
            f"| {r.seconds:.1f} | {r.cpu_seconds:.1f} | {reference[r.instance][1]} |"
        )
    proven = sum(r.status == "optimal" and r.breaks == r.optimum for r in runs)
    total = sum(r.seconds for r in runs)
    lines += [
        "",
        f"Proven optimal: {proven}/{len(runs)}; total wall time {total:.1f} s; "
        f"slowest {max(r.seconds for r in runs):.1f} s; checker violations: "
        f"{sum(r.violations for r in runs)}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=25.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="report the median of N runs")
    parser.add_argument("--only", nargs="*", help="instance names (default: all 20)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()

    reference = reference_optima()
    names = args.only or sorted(reference)
    load_before = os.getloadavg()[0]
    runs = []
    for name in names:
        repeats = [
            run_instance(name, reference[name][0], args.time_limit, args.workers)
            for _ in range(args.repeat)
        ]
        run = median_run(repeats)
        runs.append(run)
        print(
            f"{name:26s} breaks={run.breaks} optimum={run.optimum} {run.status:9s} "
            f"{run.seconds:6.1f}s cpu={run.cpu_seconds:.1f}s",
            flush=True,
        )
    header = (
        f"B2B benchmark, {len(runs)} instances, time limit {args.time_limit:g} s, "
        f"{args.workers} workers, median of {args.repeat}; machine: {machine()}; "
        f"load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "b2b_udg.md").write_text(markdown(runs, reference, header))
    with (args.out / "b2b_udg.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(asdict(runs[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in runs)
    document = {"header": header, "runs": [asdict(r) for r in runs]}
    (args.out / "b2b_udg.json").write_text(json.dumps(document, indent=2) + "\n")
    print(markdown(runs, reference, header))
    return 0 if all(r.violations == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
