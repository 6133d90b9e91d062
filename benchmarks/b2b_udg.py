"""The B2B benchmark: the 20 UdG instances through the shipped path, against proven optima.

Each instance goes the way `matchmaking convert-dzn` + `matchmaking solve-file` take it: with
`--cli` through the command itself (one process per solve, so start-up is in the time a user
waits), otherwise the same functions in process (.dzn -> bundle -> validated Bundle -> Problem
-> solve -> schedule document). Every schedule is verified by the independent checker
(`solver.check`).

    .venv/bin/python benchmarks/b2b_udg.py [--time-limit 25] [--workers 2] [--runs 3] [--cli]
        [--only tic-12.original ...] [--variants] [--peer rc2 [--peer-only]]
        [--out benchmarks/results]

`--runs N` solves each instance N times, run k with random seed k (the search's seeds; each
model's search is one CP-SAT worker, so a seed fixes its path); the table gives min / median /
max wall time and in how many runs the instance was proven optimal, and the headline counts the
instances proven in every run.

`--peer rc2` adds, for every original instance, a row `[rc2]` solved by a MaxSAT peer: our own
MaxSAT encoding of the same problem solved by PySAT's RC2 in one thread
(`benchmarks/b2b_maxsat.py`, the `bench` extra), in a process of its own killed at the same time
limit, right after ours for each instance and run; its schedules go through the same checker.
`--peer-only` runs the peer alone (our engine not at all): for work on the peer's encoding, where
re-running ours on every try only costs time and a core.

`--variants` adds, for every instance, variants with the rules the original files leave out
(seeded, so the same each time): `forbid` (a tenth of the participants cannot meet in one slot
each), `fixed` (five meetings fixed to a slot), `after` (five precedences between meetings of one
participant), and `infeasible` (one participant loses so many slots that its meetings no
longer fit: must be reported infeasible). A variant only adds rules, so its optimum is at least
the original's: a variant reported optimal below it, an `infeasible` variant reported anything
but infeasible, or a checker violation is an error of the engine (reported, exit 1).

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
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path
from typing import Any

from repo_root import REPO

from benchmarks.b2b_maxsat import meetings_of
from matchmaking.bundle.dzn import convert_dzn
from matchmaking.bundle.problem import bundle_to_problem, solution_to_schedule
from matchmaking.bundle.validate import parse_bundle
from solver import SolveParameters, solve
from solver.check import check
from solver.problem import Solution

DATA = REPO.parent / "shared" / "data" / "b2b-udg"
OPTIMUM_COLUMN = "optimum_total_breaks(MaxSAT, proven)"
VARIANTS = ("forbid", "fixed", "after", "infeasible")
#: How the summary names this tree's engine next to others (`--engines`, `--peer`).
OURS = "ours"


@dataclass
class Run:
    instance: str
    run: int
    breaks: float | None
    #: The proven optimum (originals), or the original's optimum as a lower bound (variants).
    optimum: int
    bound: float | None
    status: str
    seconds: float
    cpu_seconds: float
    violations: int
    #: What the run got wrong, beyond checker violations ("" when nothing).
    error: str = ""
    #: The source tree whose `solve-file` ran (`--engines`), "" for this one.
    engine: str = ""

    @property
    def proven(self) -> bool:
        if self.instance.endswith("+infeasible"):
            return self.status == "infeasible"
        if "+" in self.instance:
            return self.status in ("optimal", "infeasible")
        return self.status == "optimal" and self.breaks == self.optimum


def reference_optima() -> dict[str, tuple[int, str]]:
    with (DATA / "reference-optima-d2.csv").open() as file:
        return {
            row["instance"]: (int(row[OPTIMUM_COLUMN]), row["maxsat_uwrmaxsat_s"])
            for row in csv.DictReader(file)
        }


def variant(document: dict[str, Any], kind: str, seed: int) -> dict[str, Any]:
    """The converted bundle `document` with the rules of variant `kind` added (see above)."""
    chosen = random.Random(f"{document['event']['slug']}/{kind}/{seed}")
    result: dict[str, Any] = json.loads(json.dumps(document))
    result["event"]["slug"] += f"-{kind}"
    slots = [slot["id"] for session in result["sessions"] for slot in session["slots"]]
    people = result["participants"]
    wishes = result["wishes"]
    mine: dict[str, list[dict[str, Any]]] = {p["id"]: [] for p in people}
    for wish in wishes:
        mine[wish["from"]].append(wish)
        mine[wish["to"]].append(wish)
    if kind == "forbid":
        for person in chosen.sample(people, max(len(people) // 10, 1)):
            person["unavailable"] = [chosen.choice(slots)]
    elif kind == "fixed":
        taken: set[tuple[str, str]] = set()
        for wish in chosen.sample(wishes, 5):
            slot = chosen.choice(slots)
            if (wish["from"], slot) in taken or (wish["to"], slot) in taken:
                continue
            wish.pop("session", None)
            wish["fixed_slot"] = slot
            taken |= {(wish["from"], slot), (wish["to"], slot)}
    elif kind == "after":
        busy = [p for p in people if len(mine[p["id"]]) >= 2]
        for person in chosen.sample(busy, min(5, len(busy))):
            first, then = chosen.sample(mine[person["id"]], 2)
            if first["id"] not in then.get("after", []) and then["id"] not in first.get(
                "after", []
            ):
                then.setdefault("after", []).append(first["id"])
    elif kind == "infeasible":
        person = max(people, key=lambda p: len(mine[p["id"]]))
        keep = max(len(mine[person["id"]]) - 1, 0)
        person["unavailable"] = chosen.sample(slots, len(slots) - keep)
    else:
        raise ValueError(kind)
    return result


def solve_in_process(
    document: dict[str, Any], time_limit: float, workers: int, seed: int
) -> tuple[dict[str, Any], Solution, Any, float, float]:
    bundle = parse_bundle(json.dumps(document).encode())
    problem = bundle_to_problem(bundle)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    started = time.perf_counter()
    parameters = SolveParameters(time_limit_seconds=time_limit, workers=workers, random_seed=seed)
    solution = solve(problem, parameters)
    seconds = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu_before
    return solution_to_schedule(bundle, problem, solution), solution, problem, seconds, cpu


def solve_by_command(
    document: dict[str, Any], time_limit: float, workers: int, seed: int, engine: Path = REPO
) -> tuple[dict[str, Any], Solution, Any, float, float]:
    """`matchmaking solve-file` of the source tree `engine` (this one by default) in a process
    of its own, with this tree's Python environment; wall time includes start-up."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "bundle.json", Path(folder) / "schedule.json"
        source.write_text(json.dumps(document))
        command = [sys.executable, "-m", "matchmaking.commands.cli", "solve-file", str(source)]
        command += ["-o", str(target), "--time-limit", f"{time_limit:g}"]
        command += ["--workers", str(workers), "--no-progress"]
        if "random_seed=seed" in (engine / "matchmaking" / "commands" / "cli.py").read_text():
            command += ["--seed", str(seed)]  # older trees have no --seed
        environment = {**os.environ, "PYTHONPATH": str(engine)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        started = time.perf_counter()
        subprocess.run(command, check=False, capture_output=True, cwd=engine, env=environment)
        seconds = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before
        schedule = json.loads(target.read_text())
    problem = bundle_to_problem(parse_bundle(json.dumps(document).encode()))
    solution = Solution(
        status=schedule["status"],
        objective=dict(schedule["objective"]),
        meetings=meetings_of(schedule),
    )
    return schedule, solution, problem, seconds, cpu


def run_peer(name: str, document: dict[str, Any], optimum: int, time_limit: float, run: int) -> Run:
    """The MaxSAT peer (RC2) on one instance: its schedule checked like ours."""
    from benchmarks.b2b_maxsat import solve_rc2

    problem = bundle_to_problem(parse_bundle(json.dumps(document).encode()))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "bundle.json"
        source.write_text(json.dumps(document))
        result = solve_rc2(source, time_limit)
    violations: list[str] = []
    if result.meetings:
        solution = Solution(status="optimal", objective={}, meetings=result.meetings)
        report = check(problem, solution)
        # The peer reports its breaks; the checker recomputes them from the meetings.
        violations = [v for v in report.violations if not v.startswith("objective ")]
        if report.objective["breaks"] != result.breaks:
            violations.append(
                f"the peer reports {result.breaks} breaks, the meetings give "
                f"{report.objective['breaks']:g}"
            )
    for violation in violations:
        print(f"  {name} [rc2]: {violation}", file=sys.stderr)
    peer = Run(
        instance=name,
        run=run,
        breaks=result.breaks,
        optimum=optimum,
        bound=result.bound,
        status=result.status,
        seconds=round(result.seconds, 2),
        cpu_seconds=round(result.cpu_seconds, 2),
        violations=len(violations),
        engine="rc2",
    )
    if peer.status == "optimal" and peer.breaks != optimum:
        peer.error = f"optimal {peer.breaks} but the proven optimum is {optimum}"
    elif peer.status == "infeasible":
        peer.error = "reported infeasible"
    if peer.error:
        print(f"  {name} [rc2]: ERROR {peer.error}", file=sys.stderr)
    return peer


def run_instance(
    name: str,
    document: dict[str, Any],
    optimum: int,
    args: argparse.Namespace,
    seed: int,
    engine: Path | None = None,
) -> Run:
    limit, workers = args.time_limit, args.workers
    if engine is not None:
        solved = solve_by_command(document, limit, workers, seed, engine)
    elif args.cli:
        solved = solve_by_command(document, limit, workers, seed)
    else:
        solved = solve_in_process(document, limit, workers, seed)
    schedule, solution, problem, seconds, cpu = solved
    violations = check(problem, solution).violations if solution.meetings else []
    for violation in violations:
        print(f"  {name}: {violation}", file=sys.stderr)
    run = Run(
        instance=name,
        run=seed,
        breaks=schedule["objective"].get("breaks"),
        optimum=optimum,
        bound=schedule.get("bound", {}).get("breaks"),
        status=schedule["status"],
        seconds=round(seconds, 2),
        cpu_seconds=round(cpu, 2),
        violations=len(violations),
        engine=engine.name if engine is not None else "",
    )
    if name.endswith("+infeasible") and run.status not in ("infeasible", "unknown"):
        run.error = "a schedule for an infeasible event"
    elif run.status == "optimal" and run.breaks is not None and run.breaks < optimum:
        run.error = f"optimal {run.breaks:g} below the proven optimum {optimum}"
    elif run.status == "optimal" and name.count("+") == 0 and run.breaks != optimum:
        run.error = f"optimal {run.breaks} but the proven optimum is {optimum}"
    if run.error:
        print(f"  {name}: ERROR {run.error}", file=sys.stderr)
    return run


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


def by_instance(runs: list[Run]) -> dict[str, list[Run]]:
    grouped: dict[str, list[Run]] = {}
    for run in runs:
        key = f"{run.instance} [{run.engine}]" if run.engine else run.instance
        grouped.setdefault(key, []).append(run)
    return grouped


def markdown(runs: list[Run], reference: dict[str, tuple[int, str]], header: str) -> str:
    lines = [
        header,
        "",
        "| instance | breaks (each run) | proven optimum | bound (each run) | proven in | "
        "time min / median / max (s) | CPU median (s) | MaxSAT in paper (s) |",
        "|---|---|---:|---|---:|---|---:|---:|",
    ]
    grouped = by_instance(runs)
    for key, own in grouped.items():
        name = own[0].instance
        times = sorted(r.seconds for r in own)
        cpus = sorted(r.cpu_seconds for r in own)
        breaks = " / ".join("—" if r.breaks is None else f"{r.breaks:g}" for r in own)
        bounds = " / ".join("—" if r.bound is None else f"{r.bound:g}" for r in own)
        proven = sum(r.proven for r in own)
        mark = "" if proven == len(own) else " ✗"
        paper = reference[name][1] if name in reference else "—"
        optimum = own[0].optimum if "+" not in name else f"≥ {own[0].optimum}"
        if name.endswith("+infeasible"):
            optimum = "infeasible"
        lines.append(
            f"| {key} | {breaks} | {optimum} | {bounds} | {proven}/{len(own)}{mark} "
            f"| {times[0]:.1f} / {times[len(times) // 2]:.1f} / {times[-1]:.1f} "
            f"| {cpus[len(cpus) // 2]:.1f} | {paper} |"
        )
    lines.append("")
    engines = sorted({r.engine for r in runs})
    for engine in engines:
        mine = [r for r in runs if r.engine == engine]
        seeds = sorted({r.run for r in mine})
        own_groups = [g for g in grouped.values() if g[0].engine == engine]
        every = sum(all(r.proven for r in own) for own in own_groups)
        totals = [sum(r.seconds for r in mine if r.run == k) for k in seeds]
        per_run = [sum(r.proven for r in mine if r.run == k) for k in seeds]
        label = f"`{engine or OURS}`: " if len(engines) > 1 else ""
        lines.append(
            f"{label}**proven in all {len(seeds)} runs: "
            f"{every}/{len(own_groups)}**; proven per run: {' / '.join(map(str, per_run))}; "
            f"total wall time per run: {' / '.join(f'{t:.1f}' for t in totals)} s; checker "
            f"violations: {sum(r.violations for r in mine)}; errors: "
            f"{sum(bool(r.error) for r in mine)}."
        )
    return "\n".join(lines) + "\n"


def report(seed: int, name: str, run: Run) -> None:
    print(
        f"run {seed} {run.engine:8s} {name:32s} breaks={run.breaks} "
        f"optimum={run.optimum} bound={run.bound} "
        f"{run.status:10s} {run.seconds:6.1f}s cpu={run.cpu_seconds:.1f}s "
        f"load={os.getloadavg()[0]:.1f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=25.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="runs per instance (seeds 0..N-1)")
    parser.add_argument("--cli", action="store_true", help="through `matchmaking solve-file`")
    parser.add_argument("--only", nargs="*", help="instance names (default: all 20)")
    parser.add_argument("--variants", action="store_true", help="the variants too")
    parser.add_argument(
        "--variants-only", action="store_true", help="only the variants (not the originals)"
    )
    parser.add_argument(
        "--kinds",
        nargs="*",
        choices=VARIANTS,
        default=list(VARIANTS),
        help="which variants (default: all four)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--name", default="b2b_udg", help="file name of the results")
    parser.add_argument(
        "--engines",
        nargs="*",
        type=Path,
        help="A/B: source trees whose `solve-file` to run side by side, each instance and run "
        "one after the other (implies --cli)",
    )
    parser.add_argument(
        "--peer",
        choices=["rc2"],
        help="also a MaxSAT peer on each original instance, right after ours: our MaxSAT "
        "encoding solved by PySAT's RC2, one thread, the same time limit (needs the bench extra)",
    )
    parser.add_argument(
        "--peer-only",
        action="store_true",
        help="run only the peer, not our engine (needs --peer; originals only)",
    )
    args = parser.parse_args()
    if args.peer_only and (not args.peer or args.variants or args.variants_only or args.engines):
        parser.error("--peer-only needs --peer and no --variants, --variants-only or --engines")

    reference = reference_optima()
    names = args.only or sorted(reference)
    load_before = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    jobs: list[tuple[str, dict[str, Any], int]] = []
    for name in names:
        document = convert_dzn(DATA / f"{name}.dzn")
        if not args.variants_only:
            jobs.append((name, document, reference[name][0]))
        if args.variants or args.variants_only:
            jobs += [
                (f"{name}+{k}", variant(document, k, 0), reference[name][0]) for k in args.kinds
            ]
    runs: list[Run] = []
    # Run after run (not instance after instance), so that a change of load spreads over all.
    for seed in range(args.runs):
        for (name, document, optimum), engine in product(jobs, args.engines or [None]):
            if args.peer_only:
                runs.append(run_peer(name, document, optimum, args.time_limit, seed))
                report(seed, name, runs[-1])
                continue
            run = run_instance(name, document, optimum, args, seed, engine)
            runs.append(run)
            report(seed, name, run)
            if args.peer and engine == (args.engines or [None])[-1] and "+" not in name:
                runs.append(run_peer(name, document, optimum, args.time_limit, seed))
                report(seed, name, runs[-1])
    # Our engine's workers and path mean nothing when only the peer ran.
    how = (
        ""
        if args.peer_only
        else f"{args.workers} workers, {args.runs} runs "
        f"({'`matchmaking solve-file`' if args.cli or args.engines else 'in process'}), "
    )
    header = (
        f"B2B benchmark{' (variants)' if args.variants_only else ''}"
        f"{' (the peer only)' if args.peer_only else ''}, {len(jobs)} instances, "
        f"time limit {args.time_limit:g} s, {how or f'{args.runs} runs, '}{started}; "
        f"machine: {machine()}; load average {load_before:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end"
    )
    if args.peer:
        from pysat import __version__ as pysat_version

        from benchmarks.b2b_maxsat import SAT_SOLVER

        header += (
            f"; peer `[rc2]`: our MaxSAT encoding, PySAT {pysat_version} RC2 on {SAT_SOLVER}, "
            "one thread, killed at the same limit (start-up included)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text(markdown(runs, reference, header))
    fields = [*asdict(runs[0]), "proven"]
    with (args.out / f"{args.name}.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows({**asdict(r), "proven": r.proven} for r in runs)
    document = {"header": header, "runs": [{**asdict(r), "proven": r.proven} for r in runs]}
    (args.out / f"{args.name}.json").write_text(json.dumps(document, indent=2) + "\n")
    print(markdown(runs, reference, header))
    return 0 if all(r.violations == 0 and not r.error for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
