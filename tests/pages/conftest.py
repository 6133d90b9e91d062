"""Page test fixtures: the app on a real database with an open event, an organiser and people."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from matchmaking.platform.models import (
    ApiToken,
    EventRole,
    EventRoleName,
    EventStatus,
    Organiser,
    Participant,
)
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from matchmaking.platform.settings import Settings
from tests.calendars.builders import Built, build_event

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    app: FastAPI
    session: Session
    built: Built
    organiser_token: str

    @property
    def slug(self) -> str:
        return self.built.event.slug

    def read(self) -> Session:
        """A short-lived session for checks (use `with`): on SQLite an open transaction of
        the test would hold the write lock that the app's requests wait for."""
        return Session(self.app.state.engine, expire_on_commit=False)

    def client(self) -> TestClient:
        """A new browser: its own cookies."""
        return TestClient(self.app, follow_redirects=False)

    def sign_in(self, client: TestClient, key: str) -> Participant:
        """Give participant `key` a personal link and open it in `client`."""
        person = self.built.participants[key]
        token = new_token(PARTICIPANT_TOKEN_PREFIX)
        person.access_token_hash = hash_token(token)
        self.session.commit()
        response = client.get(f"/e/{self.slug}/login", params={"token": token})
        assert response.status_code == 303
        return person

    def sign_in_organiser(self, client: TestClient) -> str:
        """Sign in through the form; returns the Set-Cookie header of the answer."""
        token = csrf_of(client, "/organiser/login")
        response = client.post(
            "/organiser/login", data={"csrf_token": token, "token": self.organiser_token}
        )
        assert response.status_code == 303
        return response.headers["set-cookie"]


def csrf_of(client: TestClient, path: str) -> str:
    """Load a page like a browser and return the CSRF token its forms carry."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    settings = Settings(
        database_url=db_url,
        environment="test",
        base_url="http://testserver",
        solve_time_limit_seconds=5,
    )
    app = create_app(settings)
    session = sessionmaker(bind=app.state.engine, expire_on_commit=False)()
    built = build_event(session, participants=6)
    built.event.status = EventStatus.open
    organiser = Organiser(email="owner@example.org", name="Olga Owner")
    token = new_token("mmo")
    session.add_all(
        [
            organiser,
            ApiToken(organiser=organiser, token_hash=hash_token(token), prefix=token[:12]),
            EventRole(event=built.event, organiser=organiser, role=EventRoleName.owner),
        ]
    )
    session.commit()
    with TestClient(app):  # runs the app's start-up and shut-down
        yield Site(app, session, built, token)
    session.close()
    app.state.engine.dispose()
