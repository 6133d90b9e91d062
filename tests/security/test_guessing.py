"""Secrets cannot be guessed: tokens are long, random, stored hashed, revocable, and a client
that sends unknown ones is answered 429 after a few tries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.ratelimit import GuessLimiter
from matchmaking.models import ApiToken, Participant
from matchmaking.security import hash_token, new_token
from tests.api.conftest import Factory, bearer, make_settings, participant_auth

LIMIT = 3


@pytest.fixture
def strict_app(db_url: str) -> Iterator[FastAPI]:
    application = create_app(make_settings(db_url, guess_limit_failures=LIMIT))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def strict(strict_app: FastAPI) -> Iterator[tuple[TestClient, Factory]]:
    with TestClient(strict_app) as client:
        yield client, Factory(strict_app, client)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_blocks_after_the_allowed_failures_until_the_window_passes() -> None:
    clock = Clock()
    limiter = GuessLimiter(max_failures=2, window_seconds=60, clock=clock)
    limiter.failed("10.0.0.1", "calendar-url")
    assert limiter.seconds_blocked("10.0.0.1", "calendar-url") == 0
    clock.now += 10
    limiter.failed("10.0.0.1", "calendar-url")
    assert limiter.seconds_blocked("10.0.0.1", "calendar-url") == pytest.approx(50)
    # Other clients and other kinds of secret are not affected.
    assert limiter.seconds_blocked("10.0.0.2", "calendar-url") == 0
    assert limiter.seconds_blocked("10.0.0.1", "organiser-token") == 0
    clock.now += 50.5
    assert limiter.seconds_blocked("10.0.0.1", "calendar-url") == 0


def test_tokens_are_long_random_and_only_their_hash_is_stored(
    strict: tuple[TestClient, Factory],
) -> None:
    client, make = strict
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(slug)
    token = person["access_token"]
    assert token.startswith("mmp_") and len(token) >= 43 + 4
    assert len({new_token("mmp") for _ in range(1000)}) == 1000
    with make.app.state.sessionmaker() as db:
        stored = db.scalar(
            select(Participant).where(Participant.key == person["participant"]["key"])
        )
        assert stored is not None and stored.access_token_hash == hash_token(token)
        secret = owner["Authorization"].removeprefix("Bearer ")
        row = db.scalar(select(ApiToken))
        assert row is not None and secret not in (row.token_hash, row.prefix)
        assert row.token_hash == hash_token(secret)


def test_unknown_organiser_tokens_are_answered_429_after_the_limit(
    strict: tuple[TestClient, Factory],
) -> None:
    client, make = strict
    owner = make.organiser()
    for _ in range(LIMIT):
        guess = bearer(new_token("mmo"))
        assert client.get("/api/v1/events", headers=guess).status_code == 401
    refused = client.get("/api/v1/events", headers=bearer(new_token("mmo")))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["type"] == "/problems/too-many-attempts"
    # While blocked, even a right guess is not looked at; other kinds of secret still work.
    assert client.get("/api/v1/events", headers=owner).status_code == 429


def test_unknown_participant_tokens_are_answered_429_after_the_limit(
    strict: tuple[TestClient, Factory],
) -> None:
    client, make = strict
    owner = make.organiser()
    slug = make.open_event(owner)
    for _ in range(LIMIT):
        answer = client.get(f"/api/v1/events/{slug}/me", headers=participant_auth("mmp_x"))
        assert answer.status_code == 401
    blocked = client.get(f"/api/v1/events/{slug}/me", headers=participant_auth("mmp_y"))
    assert blocked.status_code == 429
    assert client.get("/api/v1/events", headers=owner).status_code == 200


def test_valid_tokens_never_count_against_the_limit(strict: tuple[TestClient, Factory]) -> None:
    client, make = strict
    owner = make.organiser()
    for _ in range(LIMIT * 3):
        assert client.get("/api/v1/events", headers=owner).status_code == 200


def test_guessing_calendar_urls_is_answered_429(strict: tuple[TestClient, Factory]) -> None:
    client, make = strict
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(slug)
    links = client.post(f"/api/v1/events/{slug}/me/calendar-links", headers=person["headers"])
    path = links.json()["url"].removeprefix("http://matchmaking.test")
    assert client.get(path).status_code == 200
    for _ in range(LIMIT):
        assert client.get(f"/calendars/participants/{new_token('mmc')}.ics").status_code == 404
    assert client.get(f"/calendars/participants/{new_token('mmc')}.ics").status_code == 429


def test_earlier_calendar_urls_keep_working_until_the_participant_replaces_them(
    strict: tuple[TestClient, Factory],
) -> None:
    client, make = strict
    slug = make.open_event(make.organiser())
    person = make.participant(slug)
    links = f"/api/v1/events/{slug}/me/calendar-links"
    first = client.post(links, headers=person["headers"])
    second = client.post(links, headers=person["headers"])
    old = first.json()["url"].removeprefix("http://matchmaking.test")
    new = second.json()["url"].removeprefix("http://matchmaking.test")
    assert client.get(old).status_code == 200
    assert client.get(new).status_code == 200
    replaced = client.post(links + "?replace=true", headers=person["headers"])
    assert replaced.status_code == 201
    assert replaced.json()["revoked_links"] == 2
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 404
    newest = replaced.json()["url"].removeprefix("http://matchmaking.test")
    assert client.get(newest).status_code == 200


def test_revoked_organiser_token_is_refused_at_once(strict: tuple[TestClient, Factory]) -> None:
    client, make = strict
    owner = make.organiser()
    spare = client.post("/api/v1/organisers/me/tokens", json={"name": "spare"}, headers=owner)
    assert spare.status_code == 201, spare.text
    issued = spare.json()
    spare_auth = bearer(issued["token"])
    assert client.get("/api/v1/organisers/me", headers=spare_auth).status_code == 200
    revoked = client.delete(f"/api/v1/organisers/me/tokens/{issued['id']}", headers=owner)
    assert revoked.status_code == 200
    assert client.get("/api/v1/organisers/me", headers=spare_auth).status_code == 401


def test_guessing_personal_links_on_the_pages_gets_a_429_page(
    strict: tuple[TestClient, Factory],
) -> None:
    client, make = strict
    slug = make.open_event(make.organiser())
    browser = TestClient(make.app, follow_redirects=False)
    for _ in range(LIMIT):
        page = browser.get(f"/e/{slug}/login", params={"token": new_token("mmp")})
        assert page.status_code == 401
    page = browser.get(f"/e/{slug}/login", params={"token": new_token("mmp")})
    assert page.status_code == 429
    assert "text/html" in page.headers["content-type"]
    assert "Too many attempts" in page.text


def test_guessing_organiser_tokens_on_the_sign_in_form_gets_a_429_page(
    strict: tuple[TestClient, Factory],
) -> None:
    from tests.pages.conftest import csrf_of

    client, make = strict
    browser = TestClient(make.app, follow_redirects=False)
    csrf = csrf_of(browser, "/organiser/login")
    for _ in range(LIMIT):
        page = browser.post(
            "/organiser/login", data={"csrf_token": csrf, "token": new_token("mmo")}
        )
        assert page.status_code == 401
    page = browser.post("/organiser/login", data={"csrf_token": csrf, "token": "mmo_guess"})
    assert page.status_code == 429
