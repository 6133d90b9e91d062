"""Suggestions and directory search served from the database at fair size (issue 15).

Imports a bundle written by `benchmarks/recommendations.py --bundle` (3,500 participants,
every one listed) into a fresh, migrated SQLite database, then times what a participant's page
and the API do per request: `suggestions_for_participant` (load the event's profiles and
wishes, build the ranking, rank for one participant, load the people it names), and the
directory's search (`registration.directory` with a word query and with a sector filter).
Each is repeated and reported as min / median / max milliseconds.

    .venv/bin/python benchmarks/recommendations.py --participants 3500 --bundle /tmp/fair.json
    .venv/bin/python benchmarks/suggestions_db.py /tmp/fair.json [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import repo_root  # noqa: F401 (puts the repository on sys.path)
from sqlalchemy import update
from sqlalchemy.orm import Session

from matchmaking.bundle.store import import_bundle
from matchmaking.bundle.validate import parse_bundle
from matchmaking.organising.events import get_event
from matchmaking.participants import registration
from matchmaking.participants.recommend import suggestions_for_participant
from matchmaking.platform.db import make_engine
from matchmaking.platform.migrate import upgrade_database
from matchmaking.platform.models import Participant


def timed(runs: int, work: object) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return {
        "min ms": round(min(times), 1),
        "median ms": round(statistics.median(times), 1),
        "max ms": round(max(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade_database(url)
        engine = make_engine(url)
        with Session(engine) as session:
            event = import_bundle(session, parse_bundle(args.bundle.read_bytes()))
            session.execute(update(Participant).values(listed=True))
            session.commit()
            count = len(event.participants)
            people = [p.key for p in event.participants]
        results: dict[str, object] = {"participants": count}
        with Session(engine) as session:
            event = get_event(session, event.slug)
            picks = iter(people * args.runs)
            results["suggestions for one participant"] = timed(
                args.runs, lambda: suggestions_for_participant(session, event, next(picks), 10)
            )
            words = registration.DirectoryFilter(q="battery recycling")
            results["directory search q='battery recycling'"] = timed(
                args.runs, lambda: registration.directory(session, event, words, 24, 0)
            )
            sector = registration.DirectoryFilter(sector="Energy")
            results["directory filter sector=Energy"] = timed(
                args.runs, lambda: registration.directory(session, event, sector, 24, 0)
            )
        engine.dispose()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
