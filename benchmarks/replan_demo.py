"""A re-plan of the unchanged demo event: what moves, what is cancelled, what it costs.

Builds the demo event (`matchmaking demo`'s, seed 7) in a fresh SQLite file, solves it as the
demo does (25 s), publishes that version, re-plans with no change at all through
`scheduling.solve_event` (the path of the CLI, the dashboard and the API) and compares:

    .venv/bin/python benchmarks/replan_demo.py [--time-limit 30] [--database /tmp/replan.db]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from matchmaking.bundle.store import import_bundle
from matchmaking.bundle.validate import parse_bundle
from matchmaking.commands.demo import demo_bundle
from matchmaking.planning.publishing import publish_version
from matchmaking.planning.scheduling import solve_event
from matchmaking.platform.migrate import upgrade_database
from matchmaking.platform.models import EventStatus, Meeting, ScheduleVersion
from solver import SolveParameters


def demo_options(doc: str, time_limit: float, database: str) -> argparse.Namespace:
    """The options of a re-plan benchmark on the demo event (`doc` is the script's docstring):
    the re-plan's time limit and the SQLite file the event is built in (by default `database`
    in the temporary folder)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=time_limit, help="of the re-plan (s)")
    parser.add_argument("--database", type=Path, default=Path(tempfile.gettempdir()) / database)
    return parser.parse_args()


def main() -> None:
    args = demo_options(__doc__, 30.0, "replan-demo.db")
    args.database.unlink(missing_ok=True)
    url = f"sqlite:///{args.database}"
    upgrade_database(url)
    sessions = sessionmaker(create_engine(url), expire_on_commit=False)
    with sessions() as db, db.begin():
        event = import_bundle(db, parse_bundle(demo_bundle(7)))
        event.status = EventStatus.closed
        db.flush()
        event_id = event.id
    first = solve_event(
        sessions, event_id, SolveParameters(time_limit_seconds=25, workers=2, random_seed=7)
    )
    with sessions() as db, db.begin():
        publish_version(db, db.get_one(ScheduleVersion, first.id))
    started = time.monotonic()
    again = solve_event(
        sessions, event_id, SolveParameters(time_limit_seconds=args.time_limit), replan=True
    )
    seconds = time.monotonic() - started

    def places(version_id: int) -> dict[str, tuple[int, int]]:
        with sessions() as db:
            return {
                m.uid: (m.slot_id, m.location_id)
                for m in db.scalars(select(Meeting).where(Meeting.version_id == version_id))
            }

    before, after = places(first.id), places(again.id)
    moved = sum(1 for uid in before if uid in after and before[uid] != after[uid])
    cancelled = sum(1 for uid in before if uid not in after)
    added = sum(1 for uid in after if uid not in before)
    for name, version in (("published", first), ("re-plan", again)):
        goals = version.objective
        print(
            f"{name:9} {version.status:8} wishes met {goals['scheduled']:g} "
            f"(weight {goals['scheduled_weight']:g}), breaks {goals['breaks']:g}, "
            f"min share {goals['min_share']:g}"
        )
    print(
        f"re-plan in {seconds:.1f} s (order {' > '.join(again.parameters['goal_order'])}): "
        f"{len(before)} published meetings, {moved} moved, {cancelled} cancelled, {added} added"
    )


if __name__ == "__main__":
    main()
