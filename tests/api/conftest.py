"""API test fixtures: the app on a real database (SQLite and PostgreSQL), and factories.

`client` is a TestClient against `create_app` bound to the `db_url` fixture, so every API
test runs once per database backend. Factories make organisers (with tokens), events with a
time grid, and registered participants through the same services the API uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from matchmaking.organising import organisers as organiser_service
from matchmaking.platform.settings import Settings


def make_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "environment": "test",
        "smtp_host": None,
        "base_url": "http://matchmaking.test",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def app(db_url: str) -> Iterator[FastAPI]:
    application = create_app(make_settings(db_url))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def participant_auth(token: str) -> dict[str, str]:
    return {"X-Participant-Token": token}


@dataclass
class Factory:
    """Makes test data through the services and the API, numbering what it makes."""

    app: FastAPI
    client: TestClient
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def organiser(self, email: str | None = None, name: str = "Organiser") -> dict[str, str]:
        """A new organiser account; returns its auth headers."""
        email = email or f"organiser{next(self.counter)}@example.org"
        with self.app.state.sessionmaker() as session:
            _, _, secret = organiser_service.create_organiser(session, email, name)
            session.commit()
        return bearer(secret)

    def event(self, owner: dict[str, str], slug: str | None = None, **fields: Any) -> str:
        """A draft event owned by `owner`, with one morning session of four 20-minute
        slots and two tables; returns its slug."""
        slug = slug or f"event-{next(self.counter)}"
        body = {"slug": slug, "name": f"Event {slug}", "timezone": "Europe/Berlin", **fields}
        self.ok(self.client.post("/api/v1/events", json=body, headers=owner), 201)
        self.ok(
            self.client.post(
                f"/api/v1/events/{slug}/sessions",
                json={"key": "am", "name": "Morning"},
                headers=owner,
            ),
            201,
        )
        self.ok(
            self.client.post(
                f"/api/v1/events/{slug}/sessions/am/slots/generate",
                json={
                    "start": "2030-09-10T09:00",
                    "end": "2030-09-10T10:30",
                    "meeting_minutes": 20,
                    "pause_minutes": 5,
                },
                headers=owner,
            ),
            201,
        )
        for key in ("t1", "t2"):
            self.ok(
                self.client.post(
                    f"/api/v1/events/{slug}/locations",
                    json={"key": key, "name": f"Table {key}", "kind": "table"},
                    headers=owner,
                ),
                201,
            )
        return slug

    def open_event(self, owner: dict[str, str], slug: str | None = None, **fields: Any) -> str:
        slug = self.event(owner, slug, **fields)
        self.ok(self.client.post(f"/api/v1/events/{slug}/open", headers=owner), 200)
        return slug

    def participant(self, slug: str, **overrides: Any) -> dict[str, Any]:
        """Registers a listed participant of a new organisation; returns the API answer plus
        `headers` for its token."""
        n = next(self.counter)
        body: dict[str, Any] = {
            "name": f"Person {n}",
            "email": f"person{n}@example.org",
            "organisation": {
                "name": f"Organisation {n}",
                "kind": "company",
                "country": "DE",
                "sectors": ["Energy"],
            },
            "listed": True,
        }
        body.update(overrides)
        answer = self.ok(self.client.post(f"/api/v1/events/{slug}/registrations", json=body), 201)
        answer["headers"] = participant_auth(answer["access_token"])
        return answer

    @staticmethod
    def ok(response: Any, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        return response.json() if response.content else {}


@pytest.fixture
def make(app: FastAPI, client: TestClient) -> Factory:
    return Factory(app, client)


@dataclass
class Mailbox:
    """Messages received by the local SMTP server."""

    messages: list[Any] = field(default_factory=list)
    #: The client address of each message's connection (one per connection).
    peers: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        self.peers.append(session.peer)
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    @staticmethod
    def text(message: Any) -> str:
        return str(message.get_body(("plain",)).get_content())


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server (aiosmtpd) on a free local port; yields its mailbox and port."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mail_client(db_url: str, smtp_server: tuple[Mailbox, int]) -> Iterator[TestClient]:
    """A client of an app that sends its e-mail to the local SMTP server."""
    _, port = smtp_server
    application = create_app(make_settings(db_url, smtp_host="127.0.0.1", smtp_port=port))
    with TestClient(application) as test_client:
        yield test_client
    application.state.engine.dispose()
