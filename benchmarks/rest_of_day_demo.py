"""The re-plan of the rest of the day on the demo event: five people leave at midday.

Builds, solves and publishes the demo event (`matchmaking demo`, seed 7), marks away from the
middle slot on the five people with the most meetings after it, re-plans the rest of the day
through `scheduling.solve_event` (the path of the solve jobs of the API and the pages) and
checks and counts what changed:

    .venv/bin/python benchmarks/rest_of_day_demo.py [--time-limit 20] [--database /tmp/day.db]
"""

from __future__ import annotations

import time
from collections import Counter

from replan_demo import demo_options
from sqlalchemy import select

from matchmaking.commands.demo import run_demo
from matchmaking.onsite import absences
from matchmaking.onsite.checkin import find_participant
from matchmaking.planning.publishing import current_published_version
from matchmaking.planning.scheduling import solve_event
from matchmaking.planning.versions import diff_versions, load_meetings
from matchmaking.platform.db import get_sessionmaker
from matchmaking.platform.models import Event, ScheduleVersion, Slot
from solver import SolveParameters


def main() -> None:
    args = demo_options(__doc__, 20.0, "rest-of-day-demo.db")
    result = run_demo(database=args.database, time_limit=20, say=lambda _: None)
    sessions = get_sessionmaker()
    with sessions() as db:
        event = db.scalars(select(Event).where(Event.slug == result.slug)).one()
        published = current_published_version(db, event.id)
        assert published is not None
        before = load_meetings(db, published)
        slots = sorted(
            db.scalars(select(Slot).where(Slot.event_id == event.id)), key=lambda s: s.start
        )
        cut = slots[len(slots) // 2].start  # the event's wall clock
        moment = absences.event_moment(event, cut)
        later = Counter(
            key
            for m in before
            if m.slot.start >= cut
            for key in (m.participant_a.key, m.participant_b.key)
        )
        gone = {key for key, _ in later.most_common(5)}
        theirs = sum(
            1
            for m in before
            if m.slot.start >= cut and {m.participant_a.key, m.participant_b.key} & gone
        )
        for key in gone:
            absences.mark_absent(db, event, find_participant(db, event, key), moment)
        db.commit()
        event_id, published_id = event.id, published.id
    started = time.monotonic()
    version = solve_event(
        sessions,
        event_id,
        SolveParameters(time_limit_seconds=args.time_limit, workers=2, random_seed=7),
        replan=True,
        frozen_before=moment,
    )
    seconds = time.monotonic() - started
    with sessions() as db:
        old, new = (
            db.get_one(ScheduleVersion, published_id),
            db.get_one(ScheduleVersion, version.id),
        )
        after = load_meetings(db, new)
        diff = diff_versions(db, old, new)

        def past(rows: list) -> set[tuple[str, int, int]]:
            return {(m.uid, m.slot_id, m.location_id) for m in rows if m.slot.start < cut}

        away_later = [
            m
            for m in after
            if m.slot.start >= cut and {m.participant_a.key, m.participant_b.key} & gone
        ]
        others = [c for c in diff.removed if not set(c.old.participants) & gone]  # type: ignore[union-attr]
        print(
            f"demo: {len(before)} published meetings, {len(slots)} slots; re-plan from "
            f"{cut:%a %H:%M}; 5 people away with {theirs} later meetings"
        )
        print(f"re-plan: {new.status}, {seconds:.1f} s (limit {args.time_limit:g} s)")
        print(
            f"meetings before the cut: {len(past(before))}, "
            f"all kept in place: {past(before) == past(after)}"
        )
        print(f"meetings of the people away after the cut: {len(away_later)}")
        print(
            f"changes: {len(diff.removed)} cancelled ({len(others)} of others), "
            f"{len(diff.moved)} moved, "
            f"{len(diff.added)} added, {diff.unchanged} unchanged; "
            f"meetings {len(before)} -> {len(after)}"
        )
        print(
            "wishes met (weight): "
            f"{old.objective.get('scheduled')} ({old.objective.get('scheduled_weight')}) -> "
            f"{new.objective.get('scheduled')} ({new.objective.get('scheduled_weight')})"
        )


if __name__ == "__main__":
    main()
