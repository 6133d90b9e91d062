"""What proposals add (issue 15): meetings per participant before and after, on the seeded,
interest-driven events of `benchmarks/recommendations.py`.

The generated event (people, profiles, every wish, accepted) gets a real time grid: one day of
`--slots` 20-minute slots and a table for every two participants. It is imported into a fresh,
migrated SQLite database and solved (`solve_event`, as `matchmaking solve`). Then one round of
proposals (`matchmaking.planning.proposals.send_proposals`, `--per-participant` each) fills the
free slots of that version; a share `--accept` of them (seeded) is accepted by both sides
(`answer_wish`, as the inbox does), the rest declined by one; and the event is solved again:
from scratch, or with `--replan` as an organiser would: the first version is published before
the proposals are sent, and the second solve re-plans from it (published meetings stay unless
more wishes are met by moving them).
Reported: meetings per participant (mean, median, the share with none) before and after, how
many self-sent wishes are met in each (the promise: never fewer after, at the optimum), and the
proposals sent, accepted and met.

    .venv/bin/python benchmarks/proposals.py [--participants 300] [--seed 1] [--slots 8]
        [--per-participant 2] [--accept 1.0] [--time-limit 30] [--cross-delegation-only]
        [--replan]

Results are appended to `benchmarks/results/proposals.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from collections import Counter
from typing import Any

from recommendations import bundle_document
from repo_root import REPO
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.bundle.store import import_bundle
from matchmaking.bundle.validate import parse_bundle
from matchmaking.participants.wishes import answer_wish
from matchmaking.planning.proposals import send_proposals
from matchmaking.planning.publishing import publish_version
from matchmaking.planning.scheduling import solve_event
from matchmaking.platform.db import make_engine
from matchmaking.platform.migrate import upgrade_database
from matchmaking.platform.models import (
    Event,
    EventStatus,
    Meeting,
    MeetingWish,
    Organiser,
    Participant,
    ScheduleVersion,
    Wish,
)
from solver.problem import SolveParameters

RESULTS = REPO / "benchmarks" / "results" / "proposals.json"


def bundle(participants: int, seed: int, rule: bool, slots: int) -> dict[str, Any]:
    grid = [
        {"id": f"s{i + 1}", "start": f"2030-03-04T{9 + (25 * i) // 60:02d}:{(25 * i) % 60:02d}",
         "end": f"2030-03-04T{9 + (25 * i + 20) // 60:02d}:{(25 * i + 20) % 60:02d}"}
        for i in range(slots)
    ]  # fmt: skip
    return bundle_document(
        participants,
        seed,
        rule,
        sessions=[{"id": "day", "name": "Day", "slots": grid}],
        locations=[
            {"id": f"t{i}", "name": f"Table {i}", "kind": "table"}
            for i in range(1, participants // 2 + 1)
        ],
    )


def agendas(session: Session, version: ScheduleVersion, people: list[int]) -> dict[str, Any]:
    per: Counter[int] = Counter()
    for a, b in session.execute(
        select(Meeting.participant_a_id, Meeting.participant_b_id).where(
            Meeting.version_id == version.id
        )
    ):
        per.update((a, b))
    counts = [per[p] for p in people]
    met = session.execute(
        select(Wish.proposed, Wish.id)
        .join(MeetingWish, MeetingWish.wish_id == Wish.id)
        .join(Meeting, Meeting.id == MeetingWish.meeting_id)
        .where(Meeting.version_id == version.id)
    ).all()
    return {
        "status": version.status,
        "meetings": sum(counts) // 2,
        "meetings per participant (mean)": round(statistics.mean(counts), 2),
        "meetings per participant (median)": statistics.median(counts),
        "participants without a meeting": sum(1 for c in counts if c == 0),
        "self-sent wishes met": len({i for proposed, i in met if not proposed}),
        "proposals met": len({i for proposed, i in met if proposed}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--per-participant", type=int, default=2)
    parser.add_argument("--accept", type=float, default=1.0)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cross-delegation-only", action="store_true")
    parser.add_argument("--replan", action="store_true")
    args = parser.parse_args()
    parameters = SolveParameters(
        time_limit_seconds=args.time_limit, workers=args.workers, deterministic=True
    )
    document = bundle(args.participants, args.seed, args.cross_delegation_only, args.slots)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade_database(url)
        engine = make_engine(url)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)
        with sessions() as session:
            event = import_bundle(session, parse_bundle(json.dumps(document).encode()))
            session.execute(update(Participant).values(listed=True))
            session.execute(
                update(Event).where(Event.id == event.id).values(status=EventStatus.open)
            )
            organiser = Organiser(email="bench@example.org", name="Bench")
            session.add(organiser)
            session.commit()
            event_id = event.id
            people = list(
                session.scalars(select(Participant.id).where(Participant.event_id == event_id))
            )
        started = time.perf_counter()
        before_version = solve_event(sessions, event_id, parameters)
        solve_before = time.perf_counter() - started
        with sessions() as session:
            before = agendas(session, before_version, people)
            if args.replan:
                publish_version(session, session.get_one(ScheduleVersion, before_version.id))
                session.commit()
            event = session.get_one(Event, event_id)
            organiser = session.scalars(select(Organiser)).one()
            started = time.perf_counter()
            sent = send_proposals(
                session, event, organiser, args.per_participant, base_url="http://bench"
            )
            planning = time.perf_counter() - started
            session.commit()
            rng = random.Random(args.seed)
            accepted = 0
            for wish in sent.wishes:
                both = [wish.sender, wish.recipient]
                if rng.random() < args.accept:
                    for side in both:
                        assert side is not None
                        answer_wish(session, side, wish, accept=True)
                    accepted += 1
                else:
                    assert wish.recipient is not None
                    answer_wish(session, wish.recipient, wish, accept=False)
            session.commit()
            free = len(sent.plan.free)
        started = time.perf_counter()
        after_version = solve_event(sessions, event_id, parameters, replan=args.replan)
        solve_after = time.perf_counter() - started
        with sessions() as session:
            after = agendas(session, after_version, people)
        engine.dispose()
    result = {
        "participants": args.participants,
        "seed": args.seed,
        "slots": args.slots,
        "wishes": len(document["wishes"]),
        "cross_delegation_only": args.cross_delegation_only,
        "replan": args.replan,
        "per_participant": args.per_participant,
        "accept": args.accept,
        "time_limit": args.time_limit,
        "participants with free slots": free,
        "proposals sent": len(sent.wishes),
        "proposals accepted": accepted,
        "planning seconds": round(planning, 2),
        "solve seconds": [round(solve_before, 1), round(solve_after, 1)],
        "before": before,
        "after": after,
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(result)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")


if __name__ == "__main__":
    main()
