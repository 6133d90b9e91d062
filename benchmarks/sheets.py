"""Spreadsheet import speed (issue 14): a seeded 3,500-row workbook into a fresh database.

The generator writes a realistic registration workbook: participants of about 900
organisations (several representatives each) with countries, sectors, offers, seeks,
delegations, unavailable slots and caps, and a wishes sheet (to people and to organisations).
Each run migrates a fresh SQLite database with one event, then times `import_upload` (read the
workbook, check every row, store with bulk statements, commit), and a second import of the
same workbook (every participant matched by e-mail: the update path). Runs are repeated and
reported as min / median / max.

    .venv/bin/python benchmarks/sheets.py [--rows 3500] [--wishes 3500] [--runs 3] [--seed 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_sheets]

Results are written to `benchmarks/results/sheets.{md,json}`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from repo_root import REPO
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaking.bundle.sheets import COLUMNS, Upload, import_upload
from matchmaking.platform.db import make_engine
from matchmaking.platform.migrate import upgrade_database
from matchmaking.platform.models import (
    Event,
    EventSession,
    Location,
    Participant,
    Slot,
    Wish,
)

COUNTRIES = ("CA", "DE", "FR", "ES", "IT", "PL", "NL", "SE", "PT", "BE", "DK", "FI")
SECTORS = ("Energy", "Health", "Agrifood", "ICT", "Mobility", "Space", "Water", "Quantum")
OFFERS = ("battery recycling services", "grid storage pilots", "AI quality inspection",
          "clinical trial design", "satellite data analytics", "hydrogen electrolysers",
          "precision farming sensors", "cyber security audits")  # fmt: skip
SEEKS = ("partners for green hydrogen", "distributors in Canada", "investors",
         "pilot customers", "research partners", "suppliers of sensors")  # fmt: skip
KINDS = ("company", "company", "company", "research", "cluster", "public")
SLOTS = 24


def workbook(rows: int, wishes: int, seed: int) -> bytes:
    """A registration workbook of `rows` participants and `wishes` wishes (seeded)."""
    rng = random.Random(seed)
    organisations = max(1, rows // 4)
    orgs = [
        {
            "name": f"Organisation {i:04d} {rng.choice(SECTORS)}",
            "kind": rng.choice(KINDS),
            "country": rng.choice(COUNTRIES),
            "sectors": "; ".join(rng.sample(SECTORS, 2)),
            "offers": "; ".join(rng.sample(OFFERS, rng.randint(1, 3))),
            "seeks": "; ".join(rng.sample(SEEKS, rng.randint(1, 2))),
        }
        for i in range(organisations)
    ]
    for org in orgs:
        org["delegation"] = "Canada" if org["country"] == "CA" else "EU"
    start = datetime(2030, 9, 10, 9, 0)
    book = Workbook(write_only=True)
    people = book.create_sheet("participants")
    people.append(list(COLUMNS["participants"]))
    emails = []
    for i in range(rows):
        org = orgs[i % organisations] if i < organisations else rng.choice(orgs)
        email = f"person{i:05d}@example.org"
        emails.append((email, org["name"]))
        gap = start + timedelta(minutes=25 * rng.randrange(SLOTS))
        people.append([
            email, f"Person {i:05d} Ñandú-Šťastný", org["name"], org["kind"], org["country"],
            org["sectors"], org["offers"], org["seeks"], org["delegation"],
            rng.choice(["Director", "CTO", "Researcher", ""]) or None,
            None, gap.strftime("%Y-%m-%d %H:%M") if rng.random() < 0.3 else None,
            rng.choice([None, None, 6, 8, 10]),
        ])  # fmt: skip
    sheet = book.create_sheet("wishes")
    sheet.append(list(COLUMNS["wishes"]))
    seen: set[tuple[str, str]] = set()
    while len(seen) < wishes:
        sender, sender_org = rng.choice(emails)
        if rng.random() < 0.15:
            target = rng.choice(orgs)["name"]
            if target == sender_org or (sender, target) in seen:
                continue
            seen.add((sender, target))
            sheet.append([sender, None, target, rng.choice([1, 2, 3]), None, None])
        else:
            recipient, recipient_org = rng.choice(emails)
            if recipient_org == sender_org or (sender, recipient) in seen:
                continue
            seen.add((sender, recipient))
            sheet.append([sender, recipient, None, rng.choice([1, 2, 2, 3]), "accepted", None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def fresh_event(url: str) -> None:
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as db:
        event = Event(slug="bench-sheets", name="Sheets benchmark", timezone="Europe/Berlin")
        db.add(event)
        db.flush()
        block = EventSession(event_id=event.id, key="d1", name="Day 1")
        db.add(block)
        db.flush()
        start = datetime(2030, 9, 10, 9, 0)
        for i in range(SLOTS):
            begin = start + timedelta(minutes=25 * i)
            db.add(Slot(event_id=event.id, session_id=block.id, key=f"s{i + 1}", start=begin,
                        end=begin + timedelta(minutes=20)))  # fmt: skip
        db.add(Location(event_id=event.id, key="t1", name="Table 1", kind="table"))
        db.commit()
    engine.dispose()


def timed_import(url: str, data: bytes) -> tuple[float, dict[str, Any]]:
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            event = db.scalar(select(Event).where(Event.slug == "bench-sheets"))
            assert event is not None
            began = time.perf_counter()
            result = import_upload(db, event, Upload("xlsx", data))
            db.commit()
            seconds = time.perf_counter() - began
            stored = {
                "participants": db.scalar(select(func.count()).select_from(Participant)),
                "wishes": db.scalar(select(func.count()).select_from(Wish)),
            }
        return seconds, {"summary": result.summary["participants"], "stored": stored}
    finally:
        engine.dispose()


def _clean_postgres(url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_500)
    parser.add_argument("--wishes", type=int, default=3_500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()

    data = workbook(args.rows, args.wishes, args.seed)
    first: list[float] = []
    second: list[float] = []
    checks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            if args.database_url:
                url = args.database_url
                _clean_postgres(url)
            else:
                url = f"sqlite:///{Path(folder) / f'run{run}.db'}"
            fresh_event(url)
            seconds, check = timed_import(url, data)
            first.append(seconds)
            again, check_again = timed_import(url, data)
            second.append(again)
            checks.append({"first": check, "second": check_again})
            print(f"run {run + 1}: import {seconds:.2f} s, re-import {again:.2f} s", flush=True)
    assert all(c["first"]["stored"]["participants"] == args.rows for c in checks), checks
    assert all(c["second"]["stored"] == c["first"]["stored"] for c in checks), checks
    assert all(c["second"]["summary"]["unchanged"] == args.rows for c in checks), checks

    def stats(values: list[float]) -> dict[str, float]:
        return {"min": round(min(values), 2), "median": round(statistics.median(values), 2),
                "max": round(max(values), 2)}  # fmt: skip

    report = {
        "rows": args.rows,
        "wishes": args.wishes,
        "runs": args.runs,
        "seed": args.seed,
        "workbook_bytes": len(data),
        "database": "postgresql" if args.database_url else "sqlite",
        "import_seconds": stats(first),
        "reimport_seconds": stats(second),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load_before": os.getloadavg()[0],
    }
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    suffix = "" if not args.database_url else "-postgresql"
    (out / f"sheets{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    line = (
        f"| {args.rows} | {args.wishes} | {report['database']} | "
        f"{report['import_seconds']['min']} / {report['import_seconds']['median']} / "
        f"{report['import_seconds']['max']} | {report['reimport_seconds']['min']} / "
        f"{report['reimport_seconds']['median']} / {report['reimport_seconds']['max']} |"
    )
    (out / f"sheets{suffix}.md").write_text(
        "| participant rows | wish rows | database | import s (min / median / max) | "
        "re-import s (min / median / max) |\n|---|---|---|---|---|\n" + line + "\n"
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
