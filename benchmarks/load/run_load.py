#!/usr/bin/env python3
"""The HTTP load benchmark: a 3,500-participant event served on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/load/run_load.py                      # both backends
    .venv/bin/python benchmarks/load/run_load.py --backends postgresql --profile

For each backend: a fresh database migrated to head, the two events of `build_event.py`, the
API under uvicorn (`--server-workers` processes, production logging: JSON lines with an access
line per request), then wrk on the loopback for each scenario:

- `calendar-first`, `calendar`: calendar apps fetching agenda feeds by their secret URL
  (`.ics`), first right after the server started (every feed rendered and cached as it is
  first asked for, as after a publication), then again with what the first run cached;
- `agenda-first`, `agenda`: participants reading their agenda as JSON with their personal
  token, the same two ways;
- `calendar-warm`, `agenda-warm`: the same for `--warm-participants` participants whose
  documents every API process already holds (what a repeated download costs);
- `calendar-304`: those feeds with `If-None-Match` and their ETag (an unchanged feed);
- `wishes`: the rush before the cut-off, every request a new wish; afterwards the keys of all
  wishes acknowledged with 201 are compared with the rows in the database (lost, duplicated,
  and stored-but-unacknowledged because the generator stopped while they were in flight).

`--scenarios calendar-warm,floor` runs only those (one backend with `--backends`).
`--profile` samples the server processes with py-spy during an extra calendar run and writes
the hottest functions. Results go to `--out` as JSON, and a Markdown table is printed.
wrk comes from Debian: it is installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

import build_event  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import create_engine, func, select, text, update  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from matchmaking.platform.db import make_engine  # noqa: E402
from matchmaking.platform.models import Event, Wish, WishStatus, utcnow  # noqa: E402

PYTHON_BIN = Path(sys.executable).parent


@dataclass
class ScenarioResult:
    backend: str
    scenario: str
    connections: int
    seconds: float
    requests: int
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    errors: dict[str, int]
    #: CPU time per request of the API processes and of the database server processes.
    server_cpu_ms_per_request: float = 0.0
    database_cpu_ms_per_request: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)
    #: `uptime`'s load averages (1, 5, 15 min) when the scenario started.
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: Seconds of the agenda event's publication (planning excluded), rendering included
    #: unless `--render-at-publication no`.
    publication_seconds: float = 0.0
    render_at_publication: bool = True


# --- tools -----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from Debian; installed when missing (idempotent)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk)", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.call(install, stdout=subprocess.DEVNULL) != 0:
        subprocess.check_call(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL)
        subprocess.check_call(install, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        sys.exit("error: wrk is not installed and apt-get could not install it")
    return found


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


def fresh_database(
    backend: str, workdir: Path, postgres_admin_url: str, name: str = "matchmaking_load"
) -> str:
    if backend == "sqlite":
        path = workdir / "load.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{postgres_admin_url.rsplit('/', 1)[0]}/{name}"


# --- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _refuse_busy_port(port: int) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            sys.exit(f"error: something already listens on port {port}; choose another --port")


def start_server(url: str, args: argparse.Namespace, log: Path) -> Server:
    _refuse_busy_port(args.port)
    env = {
        **os.environ,
        "MATCHMAKING_DATABASE_URL": url,
        "MATCHMAKING_ENVIRONMENT": "production",
        "MATCHMAKING_SECRET_KEY": "load-benchmark-" + os.urandom(16).hex(),
        "MATCHMAKING_LOG_JSON": "true",
        "MATCHMAKING_LOG_LEVEL": "INFO",
        "MATCHMAKING_DB_POOL_SIZE": str(args.pool_size),
    }
    env.pop("MATCHMAKING_BROKER_URL", None)
    command = [
        str(PYTHON_BIN / "uvicorn"),
        "api.app:create_app",
        "--factory",
        "--host=127.0.0.1",
        f"--port={args.port}",
        f"--workers={args.server_workers}",
        "--no-access-log",  # the app writes its own access line (route, request id)
        "--backlog=4096",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    server = Server(process, f"http://127.0.0.1:{args.port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"error: the server exited; see {log}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    sys.exit(f"error: the server did not become ready in 60 s; see {log}")


# --- CPU accounting --------------------------------------------------------------------------
# The machine may be shared (other jobs, the load generator itself): requests/s then depend on
# what else runs. CPU time per request does not, and tells what the service costs.

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it are plain.
    return raw[raw.rindex(")") + 2 :].split()


def _cpu_of(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS if fields else 0.0


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def server_cpu(server_pid: int) -> float:
    pids = [server_pid] + [p for p in _all_pids() if (f := _stat(p)) and int(f[1]) == server_pid]
    return sum(_cpu_of(p) for p in pids)


def database_cpu(url: str) -> dict[int, float]:
    """CPU time of each PostgreSQL backend serving the benchmark's database (other databases
    of the same server are not counted); none for SQLite, which runs inside the API processes.
    """
    if not url.startswith("postgresql"):
        return {}
    engine = create_engine(url)
    database = url.rsplit("/", 1)[1]
    with engine.connect() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
            {"d": database},
        ).all()
    engine.dispose()
    return {pid: _cpu_of(pid) for pid in pids}


# --- wrk -------------------------------------------------------------------------------------


def run_wrk(
    wrk: str,
    database_url: str,
    server_pid: int,
    base_url: str,
    script: str,
    script_args: list[str],
    args: argparse.Namespace,
    duration: float,
) -> dict[str, Any]:
    command = [
        wrk,
        f"--threads={args.wrk_threads}",
        f"--connections={args.connections}",
        f"--duration={int(duration)}s",
        "--timeout=10s",
        f"--script={HERE / script}",
        base_url,
        "--",
        *script_args,
    ]
    server_before, database_before = server_cpu(server_pid), database_cpu(database_url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    server_used = server_cpu(server_pid) - server_before
    # Backends that started during the run count whole; those that ended are lost (a few
    # pool overflow connections at most), so the figure is a slight underestimate.
    database_after = database_cpu(database_url)
    database_used = sum(cpu - database_before.get(pid, 0.0) for pid, cpu in database_after.items())
    match = re.search(r"^RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        sys.exit(f"error: no RESULT line from wrk:\n{output}")
    result: dict[str, Any] = json.loads(match.group(1))
    requests = max(result["requests"], 1)
    result["server_cpu_ms_per_request"] = round(1000 * server_used / requests, 2)
    result["database_cpu_ms_per_request"] = round(1000 * database_used / requests, 2)
    return result


def as_result(backend: str, scenario: str, raw: dict[str, Any], connections: int) -> ScenarioResult:
    return ScenarioResult(
        backend=backend,
        scenario=scenario,
        connections=connections,
        seconds=raw["seconds"],
        requests=raw["requests"],
        requests_per_second=round(raw["requests"] / raw["seconds"], 1),
        p50_ms=raw["p50_ms"],
        p90_ms=raw["p90_ms"],
        p99_ms=raw["p99_ms"],
        max_ms=raw["max_ms"],
        statuses=raw["statuses"],
        errors=raw["errors"],
        server_cpu_ms_per_request=raw["server_cpu_ms_per_request"],
        database_cpu_ms_per_request=raw["database_cpu_ms_per_request"],
    )


# --- the wish rush and its accounting ---------------------------------------------------------


def write_etags(base_url: str, tokens_file: Path, out: Path) -> None:
    """Every participant's feed ETag, as a calendar app holding the feed knows it."""
    lines = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for line in tokens_file.read_text().splitlines():
            calendar_token = line.split()[3]
            response = client.get(f"/calendars/participants/{calendar_token}.ics")
            response.raise_for_status()
            lines.append(f"{calendar_token} {response.headers['etag']}\n")
    out.write_text("".join(lines))


def open_wishes_until_soon(sessions: sessionmaker[Session], slug: str) -> None:
    """Put the cut-off a few minutes ahead: the rush is the last minutes before it."""
    with sessions() as session:
        session.execute(
            update(Event)
            .where(Event.slug == slug)
            .values(wish_cutoff=utcnow() + timedelta(minutes=5))
        )
        session.commit()


def wish_keys(sessions: sessionmaker[Session], slug: str) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Wish.key).join(Event).where(Event.slug == slug)))


def duplicate_open_pairs(sessions: sessionmaker[Session], slug: str) -> int:
    with sessions() as session:
        groups = (
            select(Wish.sender_id, Wish.recipient_id)
            .join(Event)
            .where(Event.slug == slug, Wish.status.in_([WishStatus.requested, WishStatus.accepted]))
            .group_by(Wish.sender_id, Wish.recipient_id)
            .having(func.count() > 1)
            .subquery()
        )
        return session.scalar(select(func.count()).select_from(groups)) or 0


def account_for_wishes(
    sessions: sessionmaker[Session], slug: str, before: set[str], keys_prefix: Path
) -> dict[str, Any]:
    acknowledged: list[str] = []
    for keys_file in keys_prefix.parent.glob(f"{keys_prefix.name}*.keys"):
        acknowledged += [line for line in keys_file.read_text().splitlines() if line]
    stored = wish_keys(sessions, slug) - before
    acknowledged_set = set(acknowledged)
    return {
        "acknowledged_201": len(acknowledged),
        "new_rows": len(stored),
        "lost": len(acknowledged_set - stored),
        "acknowledged_twice": len(acknowledged) - len(acknowledged_set),
        "duplicate_open_pairs": duplicate_open_pairs(sessions, slug),
        "stored_unacknowledged_in_flight_at_stop": len(stored - acknowledged_set),
    }


# --- profiling -------------------------------------------------------------------------------


def profile_server(server: Server, seconds: int, raw: Path) -> str:
    """Sample every server process with py-spy for `seconds`; returns a summary of `raw`."""
    command = [
        str(PYTHON_BIN / "py-spy"),
        "record",
        "--subprocesses",
        "--nonblocking",
        f"--pid={server.process.pid}",
        f"--duration={seconds}",
        "--rate=200",
        "--format=raw",
        f"--output={raw}",
    ]
    subprocess.run(command, check=True, capture_output=True)
    return summarise_profile(raw)


def summarise_profile(raw: Path, top: int = 45) -> str:
    """The functions with the largest share of samples: inclusive (the function or anything
    it calls) and self (the function itself, the innermost frame)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    lines = [f"{samples} samples\n\ninclusive:\n"]
    lines += [f"{100 * n / samples:5.1f}%  {f}\n" for f, n in inclusive.most_common(top)]
    lines.append("\nself:\n")
    lines += [f"{100 * n / samples:5.1f}%  {f}\n" for f, n in own.most_common(top // 2)]
    return "".join(lines)


def profile_scenario(
    wrk: str,
    server: Server,
    name: str,
    script: str,
    script_args: list[str],
    backend: str,
    workdir: Path,
    args: argparse.Namespace,
) -> None:
    """Run `script` for 20 s and sample the server with py-spy in the middle of it."""
    command = [
        wrk,
        f"--threads={args.wrk_threads}",
        f"--connections={args.connections}",
        "--duration=20s",
        f"--script={HERE / script}",
        server.base_url,
        "--",
        *script_args,
    ]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL) as load:
        time.sleep(3)
        summary = profile_server(server, 12, workdir / f"profile-{name}.raw")
        load.wait()
    out = args.out / f"profile-{name}-{backend}.txt"
    out.write_text(summary)
    print(f"[{backend}] profile of {name} written to {out}", flush=True)


# --- one backend -----------------------------------------------------------------------------


#: Every scenario, in the order they run.
SCENARIOS = (
    "calendar-first",
    "calendar",
    "agenda-first",
    "agenda",
    "calendar-warm",
    "agenda-warm",
    "calendar-304",
    "floor",
    "wishes",
)
#: Scenarios over the warm participants; the first of them that runs fills the caches.
WARM_SCENARIOS = ("calendar-warm", "agenda-warm", "calendar-304")


def bench_backend(backend: str, args: argparse.Namespace, wrk: str) -> list[ScenarioResult]:
    workdir = Path(tempfile.mkdtemp(prefix=f"mm-load-{backend}-"))
    url = fresh_database(backend, workdir, args.postgres_url, args.database_name)
    migrate(url)
    engine = make_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    started = time.monotonic()
    render = args.render_at_publication == "yes"
    agenda, wishes = build_event.build(sessions, "load", args.participants, workdir, render=render)
    print(
        f"[{backend}] built {agenda.participants} participants, {agenda.wishes} wishes, "
        f"{agenda.meetings} meetings in {time.monotonic() - started:.0f} s; publication "
        f"{agenda.publication_seconds:.1f} s (rendering at publication: {render}), "
        f"load average {os.getloadavg()}",
        flush=True,
    )

    def measured(result: ScenarioResult, load: tuple[float, float, float]) -> ScenarioResult:
        result.load_average = load
        result.publication_seconds = round(agenda.publication_seconds, 2)
        result.render_at_publication = render
        return result

    # The planner's statistics as a running database has them (autovacuum analyses new
    # tables only after a while): without them the first minutes measure poor query plans.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    pairs_file = workdir / "existing-pairs.txt"
    build_event.write_wish_pairs(sessions, wishes.slug, pairs_file)
    server = start_server(url, args, workdir / "server.log")
    results: list[ScenarioResult] = []
    try:
        pid, base = server.process.pid, server.base_url
        # Warm-up of the stack only: the first calendar and agenda runs start with empty
        # caches, as right after a publication (which makes every cached document unusable).
        run_wrk(wrk, url, pid, base, "floor.lua", [], args, 5)
        scenarios = [
            ("calendar", "calendar.lua", [str(agenda.tokens_file)]),
            ("agenda", "agenda.lua", [str(agenda.tokens_file), agenda.slug]),
        ]
        calendar, agenda_json = scenarios[0][1:], scenarios[1][1:]
        # Then for a set of participants whose documents every API process already holds:
        # what a repeated download costs. (Each process renders each participant's feed and
        # agenda once; for 3,500 participants and two processes that takes longer than the
        # runs above.)
        warm_tokens = workdir / "warm.tokens"
        lines = agenda.tokens_file.read_text().splitlines(keepends=True)
        warm_tokens.write_text("".join(lines[: args.warm_participants]))
        warm_calendar = ("calendar.lua", [str(warm_tokens)])
        warm_agenda = ("agenda.lua", [str(warm_tokens), agenda.slug])
        etags = workdir / "etags.txt"
        runs = [
            ("calendar-first", *calendar),
            ("calendar", *calendar),
            ("agenda-first", *agenda_json),
            ("agenda", *agenda_json),
            ("calendar-warm", *warm_calendar),
            ("agenda-warm", *warm_agenda),
            ("calendar-304", "calendar_304.lua", [str(etags)]),
            ("floor", "floor.lua", []),
        ]
        filled = False
        for name, script, script_args in runs:
            if args.scenarios is not None and name not in args.scenarios:
                continue
            if name in WARM_SCENARIOS and not filled:
                for fill in (warm_calendar, warm_agenda):
                    run_wrk(wrk, url, pid, base, *fill, args, 10)  # fills the caches
                filled = True
            if name == "calendar-304":
                write_etags(base, warm_tokens, etags)
            load = os.getloadavg()
            raw = run_wrk(wrk, url, pid, base, script, script_args, args, args.duration)
            results.append(measured(as_result(backend, name, raw, args.connections), load))
            print(f"[{backend}] {name}: {json.dumps(raw)}", flush=True)

        if args.scenarios is not None and "wishes" not in args.scenarios:
            return results
        open_wishes_until_soon(sessions, wishes.slug)
        before = wish_keys(sessions, wishes.slug)
        keys_prefix = workdir / "acknowledged-"
        load = os.getloadavg()
        raw = run_wrk(
            wrk,
            url,
            server.process.pid,
            server.base_url,
            "wishes.lua",
            [
                str(wishes.tokens_file),
                wishes.slug,
                str(pairs_file),
                str(args.wrk_threads),
                str(keys_prefix),
            ],
            args,
            args.duration,
        )
        time.sleep(2)  # let requests in flight when wrk stopped finish
        result = measured(as_result(backend, "wishes", raw, args.connections), load)
        result.checks = account_for_wishes(sessions, wishes.slug, before, keys_prefix)
        results.append(result)
        print(f"[{backend}] wishes: {json.dumps(raw)} {json.dumps(result.checks)}", flush=True)

        if args.profile:
            wish_args = [
                str(wishes.tokens_file),
                wishes.slug,
                str(pairs_file),
                str(args.wrk_threads),
                str(workdir / "profile-keys-"),
            ]
            for name, script, script_args in [*scenarios, ("wishes", "wishes.lua", wish_args)]:
                profile_scenario(wrk, server, name, script, script_args, backend, workdir, args)
    finally:
        server.stop()
        engine.dispose()
    return results


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def markdown(results: list[ScenarioResult]) -> str:
    lines = [
        "| backend | scenario | req/s | p50 ms | p99 ms | max ms | API CPU ms/req "
        "| DB CPU ms/req | statuses | errors | load avg | publication s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for r in results:
        errors = {k: v for k, v in r.errors.items() if v}
        lines.append(
            f"| {r.backend} | {r.scenario} | {r.requests_per_second:,.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.max_ms:.0f} | {r.server_cpu_ms_per_request:.1f} | "
            f"{r.database_cpu_ms_per_request:.1f} | {r.statuses} | {errors or 0} | "
            f"{' '.join(f'{x:.1f}' for x in r.load_average)} | {r.publication_seconds:.1f} "
            f"({'rendered' if r.render_at_publication else 'not rendered'}) |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--participants", type=int, default=3500)
    parser.add_argument("--duration", type=float, default=20, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument(
        "--warm-participants",
        type=int,
        default=500,
        help="participants of the calendar-warm, agenda-warm and calendar-304 runs",
    )
    parser.add_argument(
        "--scenarios",
        help="only these scenarios, comma-separated (default: all): " + ", ".join(SCENARIOS),
    )
    parser.add_argument(
        "--render-at-publication",
        choices=("yes", "no"),
        default="yes",
        help="the publication renders and stores every agenda and feed (no: as before, each "
        "API process renders on first request): the A/B of rendering at publication",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the calendar scenario")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--database-name",
        default="matchmaking_load",
        help="the PostgreSQL database made afresh (dropped first) for the run",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.scenarios is not None:
        args.scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
        unknown = args.scenarios - set(SCENARIOS)
        if unknown:
            parser.error(f"--scenarios: unknown {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    info = {"machine": machine(), "settings": {k: str(v) for k, v in vars(args).items()}}
    results: list[ScenarioResult] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend not in ("sqlite", "postgresql"):
            parser.error(f"--backends: unknown backend {backend!r} (sqlite, postgresql)")
        results += bench_backend(backend, args, wrk)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"load-{stamp}.json").write_text(
        json.dumps({**info, "results": [asdict(r) for r in results]}, indent=2)
    )
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
