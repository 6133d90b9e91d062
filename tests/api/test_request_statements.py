"""How many SQL statements the hot participant requests cost, on both backends.

The load targets (benchmarks/LOAD.md) depend on these counts: a wish is a handful of round
trips, and a repeated agenda or calendar download is one query (the credentials and the
event's serving generation) while nothing it shows has changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.api.conftest import Factory


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The first word of each SQL statement the app's engines (that of the ORM sessions and
    the lean one of the hot reads) run inside the block, BEGIN and COMMIT left out
    (PostgreSQL's BEGIN is implicit, SQLite's is a statement). The mail outbox's deliverer
    thread, which runs after the request's commit, is not the request."""
    seen: list[str] = []
    engines = [app.state.engine, app.state.lean_engine]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name == "mail-outbox":
            return
        verb = statement.split(None, 1)[0].upper()
        if verb not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(verb)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def test_sending_a_wish_is_the_locking_lookup_of_sender_and_recipient_the_insert_and_its_mail(
    make: Factory, client: TestClient, app: FastAPI
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner, max_requests_per_participant=5)
    sender, recipient = make.participant(slug), make.participant(slug)
    with statements(app) as seen:
        response = client.post(
            f"/api/v1/events/{slug}/me/wishes",
            json={"to": recipient["participant"]["key"], "priority": 1, "message": "Hello"},
            headers=sender["headers"],
        )
    assert response.status_code == 201, response.text
    # The token lookup that takes the sender's lock and reads the recipient, the insert that
    # checks the other rules in its WHERE (12 statements before; 4 with a separate lock, 3
    # with a separate check query), and the recipient's mail into the outbox: on PostgreSQL
    # in the insert's own statement (a data-modifying CTE, `WITH new AS (INSERT …)`).
    if app.state.engine.dialect.name == "postgresql":
        assert seen == ["SELECT", "WITH"]
    else:
        assert seen == ["SELECT", "INSERT", "INSERT"]
    assert response.json()["mutual"] is False
