"""How fast the organiser's pages of a 3,500-participant event answer (issue 12).

Builds the load benchmark's partnering fair (`benchmarks/load/build_event.py`: 3,500 people,
a greedy schedule, published) in a fresh SQLite file, then asks the version page (default
view, a view per day and location group, a participant search), the dashboard and a
participant's directory page several times each through the whole application, and prints
the median and the worst time of each with the size of the page.

    .venv/bin/python benchmarks/version_page.py [--participants 3500] [--repeat 5]
        [--database PATH]   # keep (or reuse) the database file
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import repo_root  # noqa: F401 (puts the repository on sys.path, for benchmarks.load)
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from benchmarks.load.build_event import _store
from matchmaking.platform.migrate import upgrade_database
from matchmaking.platform.models import (
    ApiToken,
    Event,
    EventRole,
    EventRoleName,
    Organiser,
    Participant,
    ScheduleVersion,
)
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from matchmaking.platform.settings import Settings

SLUG = "fair-agenda"


def build(url: str, participants: int, workdir: Path) -> None:
    upgrade_database(url)
    app = create_app(Settings(database_url=url, environment="test"))
    with Session(app.state.engine) as db:
        if db.scalar(select(Event.id).where(Event.slug == SLUG)):
            return
    _store(app.state.sessionmaker, SLUG, participants, 1, workdir, publish=True)
    app.state.engine.dispose()


def _sign_in(client: TestClient, token: str, person_token: str) -> None:
    """Sign in as a browser does: the organiser with the login form, the participant with
    the personal link (both open a server-side browser session)."""
    page = client.get("/organiser/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "no CSRF field on the organiser sign-in page"
    signed_in = client.post(
        "/organiser/login",
        data={"csrf_token": found.group(1), "token": token},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.status_code
    link = client.get(f"/e/{SLUG}/login", params={"token": person_token}, follow_redirects=False)
    assert link.status_code == 303, link.status_code


def measure(url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    app = create_app(Settings(database_url=url, environment="test", log_requests=False))
    token, person_token = new_token("mmo"), new_token(PARTICIPANT_TOKEN_PREFIX)
    with Session(app.state.engine, expire_on_commit=False) as db:
        event = db.scalar(select(Event).where(Event.slug == SLUG))
        assert event is not None
        organiser = Organiser(email=f"bench-{token[-6:]}@example.org", name="Bench")
        db.add_all(
            [
                organiser,
                ApiToken(organiser=organiser, token_hash=hash_token(token), prefix=token[:12]),
                EventRole(event=event, organiser=organiser, role=EventRoleName.owner),
            ]
        )
        person = db.scalars(select(Participant).where(Participant.event_id == event.id)).first()
        assert person is not None
        person.access_token_hash = hash_token(person_token)
        number = db.scalar(
            select(ScheduleVersion.number).where(ScheduleVersion.event_id == event.id)
        )
        days = sorted({s.start.date() for s in event.slots})
        db.commit()
    base = f"/organiser/e/{SLUG}"
    pages = [
        ("version page (default view)", f"{base}/versions/{number}"),
        (
            "version page, 2nd day, tables 41-80",
            f"{base}/versions/{number}?view=d:{days[-1]}&group=table-2",
        ),
        ("version page, video rooms", f"{base}/versions/{number}?group=online"),
        ("version page, search 'ma'", f"{base}/versions/{number}?q=ma"),
        ("dashboard", base),
        ("directory (participant)", f"/e/{SLUG}/directory"),
        ("directory, search 'energy'", f"/e/{SLUG}/directory?q=energy"),
        ("directory, page 60", f"/e/{SLUG}/directory?page=60"),
    ]
    results = []
    with TestClient(app) as client:
        _sign_in(client, token, person_token)
        for name, path in pages:
            times, size = [], 0
            for _ in range(repeat):
                start = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, (path, response.status_code)
                size = len(response.content)
            results.append((name, statistics.median(times), max(times), size))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=3500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", type=Path, default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mm-version-page-"))
    database = args.database or workdir / "fair.db"
    url = f"sqlite:///{database}"
    start = time.perf_counter()
    build(url, args.participants, workdir)
    print(f"event ready in {time.perf_counter() - start:.1f} s ({database})")
    print("| page | median | worst | size |\n|---|---|---|---|")
    for name, median, worst, size in measure(url, args.repeat):
        print(
            f"| {name} | {median * 1000:.0f} ms | {worst * 1000:.0f} ms | {size / 1024:.0f} KiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
