"""The lean hit path of feeds and agendas (`matchmaking.delivery.serving.lean_read` on the engine of
`matchmaking.platform.db.make_lean_engine`): one statement without an ORM session or a pre-ping, run
on the event loop. Credentials are still checked on every request; a connection that died
is replaced without an error; a database that cannot be reached is a 503 problem, never a
500."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from api.app import create_app
from api.cookies import PARTICIPANT_COOKIE
from matchmaking.delivery.serving import must_connect
from matchmaking.platform.db import LEAN_STATEMENT_TIMEOUT_MS
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from tests.api.conftest import make_settings
from tests.api.test_request_statements import statements
from tests.calendars.test_http import World
from tests.conftest import POSTGRES_ADMIN_URL


def _feed(world: World, client: TestClient | None = None) -> httpx.Response:
    return (client or world.client).get(f"/calendars/participants/{world.calendar_token}.ics")


def _agenda(world: World, token: str, client: TestClient | None = None) -> httpx.Response:
    return (client or world.client).get(
        f"/api/v1/events/{world.built.event.slug}/me/agenda",
        headers={"X-Participant-Token": token},
    )


def _app(world: World) -> FastAPI:
    app: FastAPI = world.client.app  # type: ignore[assignment]
    return app


def _unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == "/problems/database-unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert answer.headers["x-request-id"]


@contextmanager
def _terminated_before(engine: Engine, statement_start: str, times: int) -> Iterator[list[int]]:
    """The next `times` statements of `engine` starting with `statement_start` find their
    connection dead: an administrator ends the PostgreSQL backend just before each runs."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    cut: list[int] = []

    def terminate(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if len(cut) >= times or not statement.lstrip().upper().startswith(statement_start):
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.connect() as admin_conn:
            admin_conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        cut.append(pid)

    event.listen(engine, "before_cursor_execute", terminate)
    try:
        yield cut
    finally:
        event.remove(engine, "before_cursor_execute", terminate)
        admin.dispose()


_OWNER_QUERY = "SELECT PARTICIPANTS.ID"


def test_a_replaced_personal_token_is_refused_at_once_though_its_agenda_is_cached(
    world: World,
) -> None:
    first = _agenda(world, world.participant_token)
    assert first.status_code == 200
    assert _agenda(world, world.participant_token).content == first.content  # from the cache
    replacement = new_token(PARTICIPANT_TOKEN_PREFIX)
    world.built.participants["p1"].access_token_hash = hash_token(replacement)
    world.session.commit()
    refused = _agenda(world, world.participant_token)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["www-authenticate"] == "Participant"
    assert "unknown or was replaced" in refused.json()["detail"]
    again = _agenda(world, replacement)
    assert again.status_code == 200
    assert again.json() == first.json()
    # The other two ways of sending the token.
    path = f"/api/v1/events/{world.built.event.slug}/me/agenda"
    by_scheme = world.client.get(path, headers={"Authorization": f"Participant {replacement}"})
    assert by_scheme.status_code == 200
    assert by_scheme.content == again.content
    # A cookie is no credential of the JSON agenda (the pages' cookies hold sessions).
    world.client.cookies.set(PARTICIPANT_COOKIE, replacement)
    by_cookie = world.client.get(path)
    world.client.cookies.clear()
    assert by_cookie.status_code == 401
    # Without a token, and with one of someone who is not in the event's URL.
    missing = world.client.get(f"/api/v1/events/{world.built.event.slug}/me/agenda")
    assert missing.status_code == 401
    assert "X-Participant-Token" in missing.json()["detail"]
    elsewhere = world.client.get(
        "/api/v1/events/another-event/me/agenda", headers={"X-Participant-Token": replacement}
    )
    assert elsewhere.status_code == 404
    assert elsewhere.json()["detail"] == "There is no event 'another-event'."


def test_a_hit_is_one_statement_on_the_lean_engine_and_none_on_the_session_engine(
    world: World,
) -> None:
    app = _app(world)
    assert _feed(world).status_code == 200
    assert _agenda(world, world.participant_token).status_code == 200
    session_statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        session_statements.append(statement)

    event.listen(app.state.engine, "before_cursor_execute", record)
    try:
        with statements(app) as seen:
            assert _feed(world).status_code == 200
            assert _agenda(world, world.participant_token).status_code == 200
    finally:
        event.remove(app.state.engine, "before_cursor_execute", record)
    assert seen == ["SELECT", "SELECT"]
    if app.state.lean_engine.dialect.name == "postgresql":
        # SQLite's lean engine is a pool of its own over the same file; on PostgreSQL no
        # ping, BEGIN or ROLLBACK goes with the statement either.
        assert session_statements == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_connection_that_died_is_replaced_and_the_request_served(world: World) -> None:
    app = _app(world)
    feed = _feed(world)
    agenda = _agenda(world, world.participant_token)
    assert feed.status_code == agenda.status_code == 200
    with (
        _terminated_before(app.state.lean_engine, _OWNER_QUERY, times=1) as cut,
        statements(app) as seen,
    ):
        again = _feed(world)
    assert len(cut) == 1
    assert seen == ["SELECT", "SELECT"]
    assert again.status_code == 200
    assert again.content == feed.content
    with _terminated_before(app.state.lean_engine, _OWNER_QUERY, times=1) as cut:
        again = _agenda(world, world.participant_token)
    assert len(cut) == 1
    assert again.status_code == 200
    assert again.content == agenda.content


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_when_the_fresh_connection_dies_too_the_answer_is_a_503_problem(world: World) -> None:
    app = _app(world)
    client = TestClient(app, raise_server_exceptions=False)
    assert _feed(world, client).status_code == 200
    with _terminated_before(app.state.lean_engine, _OWNER_QUERY, times=2) as cut:
        _unavailable(_feed(world, client))
    assert len(cut) == 2
    with _terminated_before(app.state.lean_engine, _OWNER_QUERY, times=2) as cut:
        _unavailable(_agenda(world, world.participant_token, client))
    assert len(cut) == 2
    assert _feed(world, client).status_code == 200


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_lean_reads_on_postgresql_are_autocommit_and_bounded_in_time(world: World) -> None:
    lean: Engine = _app(world).state.lean_engine
    with lean.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == (
            f"{LEAN_STATEMENT_TIMEOUT_MS // 1000}s"
        )
        assert connection.connection.dbapi_connection.autocommit is True  # type: ignore[union-attr]
        with pytest.raises(OperationalError, match="statement timeout"):
            connection.execute(text(f"SELECT pg_sleep({LEAN_STATEMENT_TIMEOUT_MS / 1000 + 0.5})"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_unreachable_database_on_the_lean_paths_is_a_503_problem(
    backend: str, tmp_path: Any
) -> None:
    url = (
        f"sqlite:///{tmp_path}/no-such-directory/matchmaking.db"
        if backend == "sqlite"
        else f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/matchmaking"
    )
    app = create_app(make_settings(url, db_pool_timeout=2, log_requests=False))
    # No lifespan: the job runner's start-up needs the database.
    client = TestClient(app, raise_server_exceptions=False)
    try:
        _unavailable(client.get(f"/calendars/participants/{new_token('mmc')}.ics"))
        _unavailable(
            client.get(
                "/api/v1/events/fair-2030/me/agenda",
                headers={"X-Participant-Token": new_token(PARTICIPANT_TOKEN_PREFIX)},
            )
        )
        assert client.get("/healthz").status_code == 200
    finally:
        app.state.engine.dispose()


def test_a_lean_read_that_must_connect_first_does_so_off_the_event_loop(world: World) -> None:
    lean: Engine = _app(world).state.lean_engine
    if lean.dialect.name == "sqlite":
        assert not must_connect(lean)  # a local file: opening it never waits for a network
        return
    lean.dispose()  # no idle connection left, as right after start or after a failure
    assert must_connect(lean)
    connected_on_loop: list[bool] = []

    def record(*_args: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            connected_on_loop.append(False)
        else:
            connected_on_loop.append(True)

    event.listen(lean, "connect", record)
    try:
        assert _feed(world).status_code == 200
        assert _agenda(world, world.participant_token).status_code == 200
    finally:
        event.remove(lean, "connect", record)
    # One connection was opened, in a worker thread; the agenda found it idle in the pool.
    assert connected_on_loop == [False]
    assert not must_connect(lean)
