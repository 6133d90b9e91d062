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
from matchmaking.platform.models import ApiToken, Participant
from matchmaking.platform.security import (
    MAX_TOKEN_LENGTH,
    hash_token,
    new_token,
    worth_looking_up,
)
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
    _client, make = strict
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(slug)
    token = person["access_token"]
    assert token.startswith("mmp_")
    assert len(token) >= 43 + 4
    assert len({new_token("mmp") for _ in range(1000)}) == 1000
    with make.app.state.sessionmaker() as db:
        stored = db.scalar(
            select(Participant).where(Participant.key == person["participant"]["key"])
        )
        assert stored is not None
        assert stored.access_token_hash == hash_token(token)
        secret = owner["Authorization"].removeprefix("Bearer ")
        row = db.scalar(select(ApiToken))
        assert row is not None
        assert secret not in (row.token_hash, row.prefix)
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
    # While the address is blocked, a valid token still works (many people may share one
    # address, at a venue's Wi-Fi); only unknown ones are refused.
    assert client.get("/api/v1/events", headers=owner).status_code == 200
    assert client.get("/api/v1/events", headers=bearer(new_token("mmo"))).status_code == 429


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
    _client, make = strict
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

    _client, make = strict
    browser = TestClient(make.app, follow_redirects=False)
    csrf = csrf_of(browser, "/organiser/login")
    for _ in range(LIMIT):
        page = browser.post(
            "/organiser/login", data={"csrf_token": csrf, "token": new_token("mmo")}
        )
        assert page.status_code == 401
    page = browser.post("/organiser/login", data={"csrf_token": csrf, "token": "mmo_guess"})
    assert page.status_code == 429


# --- probe 2026-12: a blocked address still serves valid secrets; proxies -------------------


def test_a_blocked_address_still_gets_every_valid_secret_answered(
    strict: tuple[TestClient, Factory],
) -> None:
    # Many participants share one address at a venue's Wi-Fi: one guesser among them must
    # not lock the others out.
    client, make = strict
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(slug)
    links = client.post(f"/api/v1/events/{slug}/me/calendar-links", headers=person["headers"])
    feed = links.json()["url"].removeprefix("http://matchmaking.test")
    for _ in range(LIMIT + 2):
        client.get("/api/v1/events", headers=bearer(new_token("mmo")))
        client.get(f"/api/v1/events/{slug}/me", headers=participant_auth(new_token("mmp")))
        client.get(f"/api/v1/events/{slug}/me/agenda", headers=participant_auth(new_token("mmp")))
        client.get(f"/calendars/participants/{new_token('mmc')}.ics")
    # Unknown ones are refused...
    assert client.get("/api/v1/events", headers=bearer(new_token("mmo"))).status_code == 429
    assert client.get(f"/calendars/participants/{new_token('mmc')}.ics").status_code == 429
    unknown = participant_auth(new_token("mmp"))
    assert client.get(f"/api/v1/events/{slug}/me", headers=unknown).status_code == 429
    # ...valid ones from the same address are answered.
    assert client.get("/api/v1/events", headers=owner).status_code == 200
    assert client.get(f"/api/v1/events/{slug}/me", headers=person["headers"]).status_code == 200
    agenda = client.get(f"/api/v1/events/{slug}/me/agenda", headers=person["headers"])
    assert agenda.status_code == 200
    assert client.get(feed).status_code == 200
    browser = TestClient(make.app, follow_redirects=False)
    for _ in range(LIMIT + 1):
        browser.get(f"/e/{slug}/login", params={"token": new_token("mmp")})
    signed_in = browser.get(f"/e/{slug}/login", params={"token": person["access_token"]})
    assert signed_in.status_code == 303
    assert browser.get(f"/e/{slug}/me").status_code == 200


def test_failures_are_counted_per_address_and_kind_of_secret() -> None:
    limiter = GuessLimiter(max_failures=2, window_seconds=60, clock=Clock())
    for _ in range(2):
        limiter.failed("10.0.0.1", "participant-token")
    assert limiter.seconds_blocked("10.0.0.1", "participant-token") > 0
    for kind in ("organiser-token", "calendar-url", "session-token"):
        assert limiter.seconds_blocked("10.0.0.1", kind) == 0


def test_x_forwarded_for_counts_only_from_trusted_proxies_rightmost_untrusted_first() -> None:
    from api.ratelimit import forwarded_client, parse_networks

    proxies = parse_networks("10.0.0.0/8, 192.168.1.1")
    # Not from a trusted proxy: the header is the client's own words, ignored.
    assert forwarded_client("203.0.113.5", ["1.2.3.4"], proxies) == "203.0.113.5"
    assert forwarded_client("203.0.113.5", ["1.2.3.4"], ()) == "203.0.113.5"
    # From a proxy: the rightmost address that is not a trusted proxy.
    assert forwarded_client("10.0.0.2", ["1.2.3.4, 198.51.100.7"], proxies) == "198.51.100.7"
    assert (
        forwarded_client("10.0.0.2", ["6.6.6.6", "198.51.100.7, 192.168.1.1"], proxies)
        == "198.51.100.7"
    )
    assert forwarded_client("10.0.0.2", ["garbage, 198.51.100.7"], proxies) == "198.51.100.7"
    assert forwarded_client("10.0.0.2", ["10.0.0.9"], proxies) == "10.0.0.9"  # only proxies
    assert forwarded_client("10.0.0.2", [], proxies) == "10.0.0.2"
    with pytest.raises(ValueError, match="not an IP address"):
        parse_networks("10.0.0.1, proxy.internal")


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address(db_url: str) -> None:
    app = create_app(make_settings(db_url, guess_limit_failures=LIMIT, trusted_proxies="10.0.0.1"))
    with TestClient(app, client=("10.0.0.1", 50000)) as proxy:

        def guess(forwarded: str) -> int:
            headers = {**bearer(new_token("mmo")), "X-Forwarded-For": forwarded}
            return proxy.get("/api/v1/events", headers=headers).status_code

        # A guesser rotating what it writes into X-Forwarded-For is still one client: the
        # proxy appended the address it saw (203.0.113.9) on the right.
        answers = [guess(f"198.51.100.{i}, 203.0.113.9") for i in range(LIMIT + 2)]
        assert answers[:LIMIT] == [401] * LIMIT
        assert answers[LIMIT:] == [429, 429]
        # Another client behind the same proxy is not blocked by it.
        assert guess("203.0.113.10") == 401
    # Without the setting, the header from the same peer is not believed.
    plain = create_app(make_settings(db_url, guess_limit_failures=LIMIT))
    with TestClient(plain, client=("10.0.0.1", 50000)) as direct:
        for i in range(LIMIT):
            headers = {**bearer(new_token("mmo")), "X-Forwarded-For": f"198.51.100.{i}"}
            assert direct.get("/api/v1/events", headers=headers).status_code == 401
        headers = {**bearer(new_token("mmo")), "X-Forwarded-For": "203.0.113.77"}
        assert direct.get("/api/v1/events", headers=headers).status_code == 429
    app.state.engine.dispose()
    plain.state.engine.dispose()


def test_unknown_session_cookies_on_the_pages_count_as_guesses(
    strict: tuple[TestClient, Factory],
) -> None:
    _client, make = strict
    slug = make.open_event(make.organiser())
    browser = TestClient(make.app, follow_redirects=False)
    for _ in range(LIMIT):
        browser.cookies.set("mm_participant", new_token("mms"))
        assert browser.get(f"/e/{slug}/me").status_code == 401
    browser.cookies.set("mm_participant", new_token("mms"))
    assert browser.get(f"/e/{slug}/me").status_code == 429


def test_values_longer_than_any_token_are_answered_as_unknown_tokens(
    strict: tuple[TestClient, Factory],
) -> None:
    """A feed URL, a personal link and a session cookie far longer than a token (a real one
    with more after it) are refused as unknown ones, never looked up or answered with an
    error."""
    client, make = strict
    slug = make.open_event(make.organiser())
    person = make.participant(slug)
    links = client.post(f"/api/v1/events/{slug}/me/calendar-links", headers=person["headers"])
    feed = links.json()["url"].removeprefix("http://matchmaking.test")
    padding = "x" * MAX_TOKEN_LENGTH
    assert client.get(feed).status_code == 200
    assert client.get(feed.removesuffix(".ics") + padding + ".ics").status_code == 404
    browser = TestClient(make.app, follow_redirects=False)
    assert (
        browser.get(f"/e/{slug}/login", params={"token": new_token("mmp") + padding}).status_code
        == 401
    )
    browser.cookies.set("mm_participant", new_token("mms") + padding)
    assert browser.get(f"/e/{slug}/me").status_code == 401
    assert worth_looking_up(new_token("mmp"))
    assert not worth_looking_up(None)
    assert not worth_looking_up("")
    assert not worth_looking_up("x" * (MAX_TOKEN_LENGTH + 1))
