#!/usr/bin/env python3
"""CPU per wish, one process, one wish at a time: what `POST …/me/wishes` costs the API.

    .venv/bin/python benchmarks/load/wish_cpu.py                    # this tree, through ASGI
    .venv/bin/python benchmarks/load/wish_cpu.py --service-only     # no HTTP: `_send_wish`

The rush of `run_load.py`'s `wishes` scenario costs API CPU per wish; under wrk on a shared
machine its rates move with the load, this does much less. A fresh PostgreSQL database
migrated to head gets the wishes event of `build_event.py` (`--participants` people, four
stored wishes each, open with the cut-off minutes away); then `--wishes` new wishes (pairs
as `wishes.lua` picks them: senders round-robin, never within one organisation, never a
stored pair) are sent one at a time after `--warm-up` unmeasured ones, and the CPU time of
the whole process (`time.process_time`: every thread, the in-process mail deliverer
included) is divided by their number; so is the CPU of the PostgreSQL backends serving the
benchmark's database (`run_load.database_cpu`, clock ticks of /proc).

- Through the ASGI app (default): `create_app` with production settings (JSON logs at INFO
  to /dev/null, an access line per request) and its lifespan (the mail deliverer thread),
  each request handed to the app as uvicorn would (`_post`; no client library, whose CPU
  would count as well). `--profile` then sees only the event loop's thread.
- `--service-only`: `api.routers.wishes._send_wish` called directly (the lookup, the rules,
  the insert, the mail into the outbox, the answer, the commit), without the deliverer.

`--tree DIR` imports the service (and `run_load.py`, `build_event.py`, the migrations) from
another source tree instead, so one command can alternate two versions. The A/B of
issue 17's wish work, base = `main` exported to /tmp:

    rm -rf /tmp/wish-base && mkdir /tmp/wish-base && git archive main | tar -x -C /tmp/wish-base
    for i in 1 2 3; do
      .venv/bin/python benchmarks/load/wish_cpu.py --tree /tmp/wish-base --label base
      .venv/bin/python benchmarks/load/wish_cpu.py --label branch
    done

Every answer must be 201 (the script stops otherwise), and every acknowledged key must be
one stored row.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent.parent, help="source tree")
    parser.add_argument("--label", default="", help="printed with the result")
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--wishes", type=int, default=600, help="measured wishes")
    parser.add_argument("--warm-up", type=int, default=50, help="unmeasured wishes first")
    parser.add_argument("--service-only", action="store_true", help="no HTTP: `_send_wish`")
    parser.add_argument(
        "--cap", type=int, default=None, help="max_requests_per_participant (default: none)"
    )
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--database-name", default="matchmaking_wish_cpu")
    parser.add_argument("--profile", type=Path, help="write a cProfile (CPU clock) here")
    return parser.parse_args()


ARGS = _parse()
TREE = ARGS.tree.resolve()
# The tree's packages and its load-benchmark modules before anything installed.
sys.path[:0] = [str(TREE), str(TREE / "benchmarks" / "load")]

import build_event  # noqa: E402
import run_load  # noqa: E402
from sqlalchemy import select, update  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from api.app import create_app  # noqa: E402
from api.routers import wishes as wish_router  # noqa: E402
from api.schemas.wishes import WishCreate  # noqa: E402
from matchmaking.platform.db import make_engine  # noqa: E402
from matchmaking.platform.models import Event, Wish  # noqa: E402
from matchmaking.platform.observability import configure_logging  # noqa: E402
from matchmaking.platform.settings import Settings  # noqa: E402

SLUG = "cpu-wishes"


def _pairs(tokens: list[list[str]], existing: set[tuple[str, str]], count: int) -> list[Any]:
    """`count` new (sender token, recipient key, priority) triples, as `wishes.lua` picks."""
    people = [{"key": t[0], "org": t[1], "access": t[2]} for t in tokens]
    found: list[Any] = []
    k = 0
    while len(found) < count:
        sender = k % len(people)
        offset = 1 + k // len(people)
        k += 1
        a, b = people[sender], people[(sender + offset) % len(people)]
        if a["org"] != b["org"] and (a["key"], b["key"]) not in existing:
            found.append((a["access"], b["key"], 1 + len(found) % 3))
    return found


def _prepare(workdir: Path) -> tuple[str, list[Any]]:
    url = run_load.fresh_database("postgresql", workdir, ARGS.postgres_url, ARGS.database_name)
    run_load.migrate(url)
    engine = make_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    event = build_event._store(sessions, SLUG, ARGS.participants, 1, workdir, publish=False)
    with sessions() as session:
        session.execute(
            update(Event).where(Event.slug == SLUG).values(max_requests_per_participant=ARGS.cap)
        )
        session.commit()
    pairs_file = workdir / "pairs.txt"
    build_event.write_wish_pairs(sessions, SLUG, pairs_file)
    existing = {(a, b) for a, b in (line.split() for line in pairs_file.read_text().splitlines())}
    tokens = [line.split() for line in event.tokens_file.read_text().splitlines()]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    # Alembic's logging configuration (a console handler on the root logger) is not the
    # server's: `create_app` installs that; the client's own lines (httpx) are left out.
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return url, _pairs(tokens, existing, ARGS.warm_up + ARGS.wishes)


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        environment="production",
        secret_key="wish-cpu-benchmark-" + os.urandom(16).hex(),
        log_json=True,
        log_level="INFO",
    )


def _app(url: str) -> Any:
    """The app with production settings, its logs written (and dropped) as production's."""
    app = create_app(_settings(url))
    configure_logging(app.state.settings, open(os.devnull, "w"))  # noqa: SIM115
    return app


async def _through_asgi(app: Any, pairs: list[Any]) -> tuple[float, float, list[str]]:
    path = f"/api/v1/events/{SLUG}/me/wishes"
    keys: list[str] = []

    async def send(pair: Any) -> None:
        token, to, priority = pair
        status, body = await _post(app, path, token, {"to": to, "priority": priority})
        if status != 201:
            sys.exit(f"error: {status} {body!r}")
        keys.append(json.loads(body)["key"])

    async with app.router.lifespan_context(app):
        for pair in pairs[: ARGS.warm_up]:
            await send(pair)
        await asyncio.sleep(0.5)  # the deliverer's share of the warm-up
        gc.collect()
        database = run_load.database_cpu(app.state.settings.database_url)
        cpu, wall = time.process_time(), time.perf_counter()
        with _profiled():
            for pair in pairs[ARGS.warm_up :]:
                await send(pair)
            # The deliverer handles the last mails (woken by the commit, settling 0.1 s).
            await asyncio.sleep(0.5)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall - 0.5
        _database_cpu(app, database)
    return cpu, wall, keys


async def _post(app: Any, path: str, token: str, payload: Any) -> tuple[int, bytes]:
    """One POST straight into the ASGI app, as uvicorn hands it over (a client library
    would add its own CPU: httpx's ASGI transport costs about as much as the route)."""
    body = json.dumps(payload).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"x-participant-token", token.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a disconnect never comes
        raise AssertionError

    async def respond(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, respond)
    return status, b"".join(chunks)


def _service_only(app: Any, pairs: list[Any]) -> tuple[float, float, list[str]]:
    request: Any = SimpleNamespace(app=app)
    keys: list[str] = []

    def send(pair: Any) -> None:
        token, to, priority = pair
        answer = wish_router._send_wish(SLUG, WishCreate(to=to, priority=priority), request, token)
        keys.append(answer.key if hasattr(answer, "key") else json.loads(answer.body)["key"])

    for pair in pairs[: ARGS.warm_up]:
        send(pair)
    gc.collect()
    database = run_load.database_cpu(app.state.settings.database_url)
    cpu, wall = time.process_time(), time.perf_counter()
    with _profiled():
        for pair in pairs[ARGS.warm_up :]:
            send(pair)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    _database_cpu(app, database)
    app.state.engine.dispose()
    return cpu, wall, keys


#: PostgreSQL's CPU for the measured wishes (its backends of the benchmark's database).
DATABASE_CPU = [0.0]


def _database_cpu(app: Any, before: dict[int, float]) -> None:
    after = run_load.database_cpu(app.state.settings.database_url)
    DATABASE_CPU[0] = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class _profiled:
    """cProfile with a CPU clock around the measured wishes when `--profile` is given."""

    def __enter__(self) -> None:
        self.profile = None
        if ARGS.profile:
            import cProfile

            self.profile = cProfile.Profile(time.process_time)
            self.profile.enable()

    def __exit__(self, *_exc: object) -> None:
        if self.profile is not None:
            self.profile.disable()
            self.profile.dump_stats(ARGS.profile)


def _check(url: str, keys: list[str]) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = set(
            conn.scalars(
                select(Wish.key).join(Event, Event.id == Wish.event_id).where(Event.slug == SLUG)
            )
        )
    engine.dispose()
    if len(set(keys)) != len(keys) or not set(keys) <= stored:
        sys.exit("error: acknowledged keys are not stored rows, or repeated")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mm-wish-cpu-"))
    url, pairs = _prepare(workdir)
    load = os.getloadavg()
    if ARGS.service_only:
        cpu, wall, keys = _service_only(_app(url), pairs)
    else:
        cpu, wall, keys = asyncio.run(_through_asgi(_app(url), pairs))
    _check(url, keys)
    mode = "service" if ARGS.service_only else "asgi"
    print(
        f"{ARGS.label or TREE} {mode}: {cpu / ARGS.wishes * 1000:.2f} ms CPU a wish, "
        f"{wall / ARGS.wishes * 1000:.2f} ms wall, PostgreSQL "
        f"{DATABASE_CPU[0] / ARGS.wishes * 1000:.2f} ms CPU ({ARGS.wishes} wishes, "
        f"{ARGS.participants} participants, load {load[0]:.1f}; {wish_router.__file__})",
        flush=True,
    )


if __name__ == "__main__":
    main()
