"""Faults: the database going away, the server killed mid-solve or mid-registration, two
publishers at once. Each time: a clean problem-details answer, nothing half-written, and the
service works again as soon as the fault is gone.

Connections are cut for real: PostgreSQL backends of the app are ended with
`pg_terminate_backend` at a chosen statement, servers are real `matchmaking serve` processes
ended with SIGKILL.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle.store import import_bundle
from matchmaking.organising import organisers as organiser_service
from matchmaking.planning.scheduling import problem_from_event
from matchmaking.planning.versions import snapshot_digest
from matchmaking.platform.db import make_engine
from matchmaking.platform.models import (
    Event,
    EventStatus,
    JobStatus,
    Organisation,
    Participant,
    ScheduleVersion,
)
from tests.api.conftest import make_settings
from tests.conftest import POSTGRES_ADMIN_URL
from tests.processes import ApiServer, free_port, start_solve, wait_finished, wait_for
from tests.production.events import busy_event_bundle
from tests.security.world import World, build_world

# --- helpers -----------------------------------------------------------------------------


def cut_connection_at(engine: Engine, statement_start: str) -> Callable[[], int]:
    """The next statement of `engine` starting with `statement_start` loses its connection:
    an administrator ends the PostgreSQL backend just before it runs. Returns a function
    telling how many connections were cut."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    cut: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def terminate(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if cut or not statement.lstrip().upper().startswith(statement_start):
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.connect() as admin_conn:
            admin_conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        cut.append(pid)

    return lambda: len(cut)


@pytest.fixture
def world_app(db_url: str) -> Iterator[tuple[TestClient, FastAPI, World]]:
    app = create_app(make_settings(db_url, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, app, world
    app.state.engine.dispose()


def _count(app: FastAPI, model: Any) -> int:
    with sessionmaker(bind=app.state.engine)() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def _newcomer(n: int) -> dict[str, Any]:
    return {
        "name": f"Newcomer {n}",
        "email": f"newcomer{n}@example.org",
        "organisation": {"name": f"Newco {n}", "kind": "company", "country": "FR"},
    }


def _unavailable(problem: httpx.Response) -> None:
    assert problem.status_code == 503, problem.text
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert int(problem.headers["retry-after"]) > 0
    assert "Traceback" not in problem.text
    assert "nothing was changed" in problem.json()["detail"]


# --- the database goes away -------------------------------------------------------------------


def test_an_unreachable_database_is_a_503_problem_while_liveness_holds() -> None:
    closed = free_port()  # nothing listens there
    app = create_app(
        make_settings(
            f"postgresql+psycopg://postgres@127.0.0.1:{closed}/matchmaking",
            db_pool_timeout=2,
            log_requests=False,
        )
    )
    # No lifespan: the job runner's start-up recovery needs the database (a server whose
    # database is down at start fails to start, and its supervisor retries).
    client = TestClient(app, raise_server_exceptions=False)
    _unavailable(client.get("/api/v1/events", headers={"Authorization": "Bearer mmo_x"}))
    _unavailable(client.post("/api/v1/events/fair-2030/registrations", json=_newcomer(1)))
    _unavailable(client.get("/api/v1/events/fair-2030/public"))
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    app.state.engine.dispose()


def _allow_connections(database: str, allowed: bool) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )
    admin.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_database_going_away_and_coming_back(
    world_app: tuple[TestClient, FastAPI, World], db_url: str
) -> None:
    client, _app, world = world_app
    database = db_url.rsplit("/", 1)[1]
    owner = world.headers("owner")
    assert client.get(f"/api/v1/events/{world.slug}", headers=owner).status_code == 200
    _allow_connections(database, False)
    try:
        _unavailable(client.get(f"/api/v1/events/{world.slug}", headers=owner))
        _unavailable(client.post(f"/api/v1/events/{world.slug}/registrations", json=_newcomer(1)))
        assert client.get("/healthz").status_code == 200
    finally:
        _allow_connections(database, True)
    # Back: the pool drops the dead connections and the same requests work.
    assert client.get(f"/api/v1/events/{world.slug}", headers=owner).status_code == 200
    answer = client.post(f"/api/v1/events/{world.slug}/registrations", json=_newcomer(1))
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_connection_lost_during_registration_stores_nothing_and_the_next_one_works(
    world_app: tuple[TestClient, FastAPI, World],
) -> None:
    client, app, world = world_app
    people, organisations = _count(app, Participant), _count(app, Organisation)
    cuts = cut_connection_at(app.state.engine, "INSERT INTO PARTICIPANTS")
    answer = client.post(f"/api/v1/events/{world.slug}/registrations", json=_newcomer(1))
    assert cuts() == 1
    _unavailable(answer)
    # The organisation inserted before the cut went with the transaction.
    assert (_count(app, Participant), _count(app, Organisation)) == (people, organisations)
    again = client.post(f"/api/v1/events/{world.slug}/registrations", json=_newcomer(1))
    assert again.status_code == 201, again.text
    assert _count(app, Participant) == people + 1


def _second_version(app: FastAPI, world: World, number: int) -> None:
    """Version `number`, planned from the published version 1 (so it may be published)."""
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as db:
        event_row = db.scalar(select(Event).where(Event.slug == world.slug))
        assert event_row is not None
        first = db.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.event_id == event_row.id, ScheduleVersion.number == 1
            )
        )
        assert first is not None
        version = ScheduleVersion(
            event=event_row,
            number=number,
            status="optimal",
            based_on_id=first.id,
            snapshot_at=datetime.now(UTC),
            # As a solve records it: the version includes every wish and registration.
            snapshot_digest=snapshot_digest(problem_from_event(db, event_row).problem),
        )
        version.meetings = []
        db.add(version)
        db.commit()


def _current(app: FastAPI) -> list[int]:
    with sessionmaker(bind=app.state.engine)() as db:
        return list(
            db.scalars(
                select(ScheduleVersion.number).where(
                    ScheduleVersion.published_at.is_not(None),
                    ScheduleVersion.superseded_at.is_(None),
                )
            )
        )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_connection_lost_while_publishing_leaves_the_published_version_and_retry_works(
    world_app: tuple[TestClient, FastAPI, World],
) -> None:
    client, app, world = world_app
    _second_version(app, world, 2)
    owner = world.headers("owner")
    # The last statement of publishing: version 1 was already marked superseded and version 2
    # published within the transaction when the connection goes.
    cuts = cut_connection_at(app.state.engine, "UPDATE EVENTS")
    answer = client.post(f"/api/v1/events/{world.slug}/versions/2/publish", headers=owner)
    assert cuts() == 1
    _unavailable(answer)
    assert _current(app) == [1]  # no partial publication
    again = client.post(f"/api/v1/events/{world.slug}/versions/2/publish", headers=owner)
    assert again.status_code == 200, again.text
    assert _current(app) == [2]


def test_two_publishers_at_once_exactly_one_wins(
    world_app: tuple[TestClient, FastAPI, World],
) -> None:
    _client, app, world = world_app
    _second_version(app, world, 2)
    _second_version(app, world, 3)
    start = threading.Barrier(2)

    def publish(number: int) -> int:
        own = TestClient(app, raise_server_exceptions=False)  # the app is started already
        start.wait()
        return own.post(
            f"/api/v1/events/{world.slug}/versions/{number}/publish",
            headers=world.headers("owner" if number == 2 else "staff"),
        ).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = dict(zip((2, 3), pool.map(publish, (2, 3)), strict=True))
    assert sorted(statuses.values()) == [200, 409], statuses
    winner = next(number for number, status in statuses.items() if status == 200)
    assert _current(app) == [winner]


# --- the server is killed ------------------------------------------------------------------------


@pytest.fixture
def busy_event(db_url: str) -> Iterator[tuple[str, dict[str, str], sessionmaker[Any]]]:
    engine = make_engine(db_url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:
        organiser, _, secret = organiser_service.create_organiser(
            session, f"faults-{uuid.uuid4().hex[:6]}@example.org", "Faults"
        )
        bundle = busy_event_bundle("faults-test")
        bundle["event"].pop("registration_closes", None)
        imported = import_bundle(session, Bundle.model_validate(bundle), owner=organiser)
        imported.status = EventStatus.open  # registration open
        session.commit()
    yield "faults-test", {"Authorization": f"Bearer {secret}"}, sessions
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_solve_killed_with_its_server_is_run_again_after_the_restart(
    db_url: str, busy_event: tuple[str, dict[str, str], sessionmaker[Any]], tmp_path: Path
) -> None:
    slug, owner, sessions = busy_event
    log = tmp_path / "server.log"
    server = ApiServer(db_url, log, MATCHMAKING_LOG_REQUESTS="false")
    job = start_solve(server, slug, owner, 5, sessions)
    time.sleep(1)  # well into the search
    server.kill()
    assert job().status == JobStatus.running  # nobody could say otherwise: the process died
    with sessions() as session:
        assert session.scalars(select(ScheduleVersion)).all() == []  # nothing half-written

    server = ApiServer(db_url, log, MATCHMAKING_LOG_REQUESTS="false")
    try:
        finished = wait_finished(job, "the restarted server to finish the job", 90, log)
    finally:
        server.kill()
    assert finished.status == JobStatus.succeeded, finished.error
    assert finished.attempts == 2
    with sessions() as session:
        versions = session.scalars(select(ScheduleVersion)).all()
    assert [v.id for v in versions] == [finished.version_id]


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_server_killed_during_registrations_loses_none_it_confirmed(
    db_url: str, busy_event: tuple[str, dict[str, str], sessionmaker[Any]], tmp_path: Path
) -> None:
    slug, _owner, sessions = busy_event
    log = tmp_path / "server.log"
    server = ApiServer(db_url, log, MATCHMAKING_LOG_REQUESTS="false")
    confirmed: dict[str, str] = {}  # e-mail → personal token, for every 201
    attempted: list[str] = []
    stop = threading.Event()

    def register(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            person = _newcomer(worker * 100_000 + n)
            attempted.append(person["email"])
            try:
                answer = httpx.post(
                    f"{server.base}/api/v1/events/{slug}/registrations", json=person, timeout=5
                )
            except httpx.HTTPError:
                return  # the server died under this request
            if answer.status_code == 201:
                confirmed[person["email"]] = answer.json()["access_token"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        for worker in range(4):
            pool.submit(register, worker)
        wait_for(lambda: len(confirmed) >= 20, "some registrations", 60, log)
        server.kill()
        stop.set()

    server = ApiServer(db_url, log, MATCHMAKING_LOG_REQUESTS="false")
    try:
        for email, token in confirmed.items():
            me = httpx.get(
                f"{server.base}/api/v1/events/{slug}/me",
                headers={"X-Participant-Token": token},
                timeout=10,
            )
            assert me.status_code == 200
            assert me.json()["email"] == email
        with sessions() as session:
            stored = {
                p.email: p
                for p in session.scalars(
                    select(Participant).where(Participant.email.in_(attempted))
                )
            }
            # Unconfirmed ones are either whole (participant with its organisation) or absent.
            assert set(confirmed) <= set(stored) <= set(attempted)
            assert all(p.organisation is not None and p.access_token_hash for p in stored.values())
        print(
            f"registrations: {len(attempted)} sent, {len(confirmed)} confirmed before the kill, "
            f"{len(stored)} stored, {len(set(attempted) - set(stored))} never stored "
            "(none of them confirmed)"
        )
        again = httpx.post(
            f"{server.base}/api/v1/events/{slug}/registrations", json=_newcomer(999_999), timeout=10
        )
        assert again.status_code == 201
    finally:
        server.kill()
