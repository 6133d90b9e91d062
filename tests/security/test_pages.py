"""The web pages: security headers on every page, safe cookies, and CSRF on every form.

Page routes are read from the app itself, so a new page or form cannot skip these checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from matchmaking.platform.models import (
    Absence,
    CalendarLink,
    Participant,
    ScheduleVersion,
    SolveJob,
    Wish,
)
from tests.api.conftest import make_settings
from tests.security.world import World, build_world

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def pages(db_url: str) -> Iterator[tuple[FastAPI, World]]:
    app = create_app(make_settings(db_url, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    with TestClient(app):
        yield app, world
    app.state.engine.dispose()


def _api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """(full path, route) of every APIRoute, also inside included routers (FastAPI 0.165 keeps
    an included router as one `_IncludedRouter` entry of `app.routes`)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            extra = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            found += _api_routes(route.original_router.routes, prefix + extra)
    return found


def page_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every HTML page route (not the JSON API, not the static files)."""
    found = []
    for path, route in _api_routes(list(app.routes)):
        if route.include_in_schema or path.startswith(("/api/", "/static/")):
            continue
        found += [(method, path) for method in sorted(route.methods or [])]
    # The checks below go over these routes: finding none would make them pass unchecked.
    assert len(found) > 50, f"only {len(found)} page routes found"
    return found


def browser(app: FastAPI, *, https: bool = False) -> TestClient:
    return TestClient(
        app, base_url="https://testserver" if https else "http://testserver", follow_redirects=False
    )


def signed_in_participant(app: FastAPI, world: World, who: str = "p1") -> TestClient:
    client = browser(app)
    answer = client.get(f"/e/{world.slug}/login", params={"token": world.participant_tokens[who]})
    assert answer.status_code == 303
    return client


def sign_in_organiser(client: TestClient, api_token: str) -> str:
    """Sign in through the form, as a browser does; returns the session cookie's value."""
    csrf = CSRF.search(client.get("/organiser/login").text)
    assert csrf
    answer = client.post("/organiser/login", data={"csrf_token": csrf.group(1), "token": api_token})
    assert answer.status_code == 303, answer.text
    return str(answer.cookies.get("mm_organiser") or client.cookies.get("mm_organiser"))


def signed_in_organiser(app: FastAPI, world: World, role: str = "owner") -> TestClient:
    client = browser(app)
    sign_in_organiser(client, world.organiser_tokens[role])
    return client


#: What fills a page route's parameters in these tests (a key that does not exist answers
#: 404, which these tests accept: they check headers and forms, not contents).
FILL = {
    "number": 1,
    "key": "w2",
    "uid": "no-such-meeting",
    "member_id": 1,
    "kind": "tables",
    "action": "copy",
    "name": "participants.csv",
    "job_id": "no-such-job",
}

GET_PAGES = [
    ("anonymous", "/"),
    ("anonymous", "/e/{slug}"),
    ("anonymous", "/e/{slug}/register"),
    ("anonymous", "/organiser/login"),
    ("anonymous", "/e/{slug}/link"),
    ("participant", "/e/{slug}/me"),
    ("participant", "/e/{slug}/me/badge"),
    ("participant", "/e/{slug}/me/calendar/replace"),
    ("participant", "/e/{slug}/me/meetings/{uid}/feedback"),
    ("participant", "/e/{slug}/directory"),
    ("participant", "/e/{slug}/wishes"),
    ("participant", "/e/{slug}/inbox"),
    ("organiser", "/organiser"),
    ("organiser", "/organiser/new"),
    ("organiser", "/organiser/e/{slug}"),
    ("organiser", "/organiser/e/{slug}/setup"),
    ("organiser", "/organiser/e/{slug}/details"),
    ("organiser", "/organiser/e/{slug}/sessions"),
    ("organiser", "/organiser/e/{slug}/slots/{key}"),
    ("organiser", "/organiser/e/{slug}/locations"),
    ("organiser", "/organiser/e/{slug}/locations/{key}/edit"),
    ("organiser", "/organiser/e/{slug}/rules"),
    ("organiser", "/organiser/e/{slug}/team"),
    ("organiser", "/organiser/e/{slug}/import"),
    ("organiser", "/organiser/e/{slug}/messages"),
    ("organiser", "/organiser/e/{slug}/proposals"),
    ("organiser", "/organiser/e/{slug}/versions/{number}"),
    ("organiser", "/organiser/e/{slug}/versions/{number}/edit"),
    ("organiser", "/organiser/e/{slug}/check-in"),
    ("organiser", "/organiser/e/{slug}/check-in/{key}"),
    ("organiser", "/organiser/e/{slug}/rest-of-day"),
    ("organiser", "/organiser/e/{slug}/meetings"),
    ("organiser", "/organiser/e/{slug}/door-lists"),
    ("organiser", "/organiser/e/{slug}/badges"),
    ("organiser", "/organiser/e/{slug}/report"),
    ("anonymous", "/e/no-such-event"),  # error pages too
]


def test_every_page_carries_the_security_headers(pages: tuple[FastAPI, World]) -> None:
    app, world = pages
    clients = {
        "anonymous": browser(app),
        "participant": signed_in_participant(app, world),
        "organiser": signed_in_organiser(app, world),
    }
    for who, path in GET_PAGES:
        page = clients[who].get(path.format(slug=world.slug, **FILL))
        assert page.status_code in (200, 404), (path, page.status_code)
        headers = page.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp, path
        assert "'unsafe-inline'" not in csp, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_the_pages_tested_are_all_the_get_pages(pages: tuple[FastAPI, World]) -> None:
    app, _ = pages
    tested = {path for _, path in GET_PAGES}
    not_pages = {
        "/e/{slug}/login",  # a redirect that sets the cookie
        "/organiser/e/{slug}/jobs/{job_id}.json",  # JSON for the progress script
        "/organiser/e/{slug}/versions/{number}/{kind}.{fmt}",  # file downloads
        "/organiser/e/{slug}/report.xlsx",
        "/organiser/e/{slug}/bundle.json",
        "/organiser/e/{slug}/import/{name}",  # the import templates
        "/e/no-such-event",
    }
    gets = {path for method, path in page_routes(app) if method == "GET"}
    assert gets - tested - not_pages == set(), "add the new page to GET_PAGES"
    assert tested - gets - not_pages == set(), "GET_PAGES names a page that is gone"


def _cookie_flags(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


def test_cookies_are_http_only_same_site_and_secure_over_https(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    client = browser(app, https=True)
    answers = [client.get("/organiser/login")]  # CSRF cookie
    csrf = CSRF.search(answers[0].text)
    assert csrf
    answers.append(
        client.post(
            "/organiser/login",
            data={"csrf_token": csrf.group(1), "token": world.organiser_tokens["owner"]},
        )
    )
    answers.append(
        client.get(f"/e/{world.slug}/login", params={"token": world.participant_tokens["p1"]})
    )
    cookies = [value for a in answers for value in a.headers.get_list("set-cookie")]
    assert {c.split("=")[0] for c in cookies} >= {"mm_csrf", "mm_participant", "mm_organiser"}
    for cookie in cookies:
        flags = _cookie_flags(cookie)
        assert "httponly" in flags, cookie
        assert "samesite=lax" in flags or "samesite=strict" in flags, cookie
        assert "secure" in flags, cookie
        assert "path=/" in flags, cookie


def test_every_post_form_in_the_templates_carries_the_csrf_field() -> None:
    forms = 0
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", text, flags=re.S | re.I):
            forms += 1
            # `f.csrf()` in a page, or the bare `csrf()` inside the macros file that defines it
            carries = "csrf_token" in form or re.search(r"(?<![\w])(f\.)?csrf\(\)", form)
            assert carries, f"{template.name}: no CSRF field"
    assert forms >= 8


def _counts(app: FastAPI) -> tuple[int, int, int, int, int, str, int]:
    with sessionmaker(bind=app.state.engine)() as db:
        version = db.scalar(select(ScheduleVersion).where(ScheduleVersion.number == 1))
        return (
            db.scalar(select(func.count()).select_from(Participant)) or 0,
            db.scalar(select(func.count()).select_from(CalendarLink)) or 0,
            db.scalar(select(func.count()).select_from(Wish)) or 0,
            db.scalar(select(func.count()).select_from(SolveJob)) or 0,
            len(db.scalars(select(ScheduleVersion)).all()),
            str(version.published_at if version else None),
            db.scalar(select(func.count()).select_from(Absence)) or 0,
        )


def _post_targets(world: World) -> dict[str, tuple[str, dict[str, str]]]:
    """A form submission for each POST page route that would change something if accepted."""
    return {
        "/organiser/login": ("anonymous", {"token": world.organiser_tokens["owner"]}),
        "/organiser/logout": ("organiser", {}),
        "/organiser/e/{slug}/solve": ("organiser", {"time_limit": "5"}),
        "/organiser/e/{slug}/versions/{number}/publish": ("organiser", {"force": "yes"}),
        "/organiser/e/{slug}/registration": ("organiser", {"action": "close"}),
        "/organiser/e/{slug}/versions/{number}/edit/{action}": ("organiser", {}),
        "/e/{slug}/me/calendar": ("participant", {}),
        "/e/{slug}/me/calendar/replace": ("participant", {"confirm": "yes"}),
        "/e/{slug}/wishes": ("participant", {"to": "p3", "priority": "1"}),
        "/e/{slug}/wishes/{key}": ("participant", {"action": "accept"}),
        "/e/{slug}/register": (
            "anonymous",
            {"name": "Mallory", "email": "m@example.org", "organisation": "Evil", "kind": "other"},
        ),
        "/e/{slug}/link": ("anonymous", {"email": "p1@example.org"}),
        "/e/{slug}/me/meetings/{uid}/attendance": ("participant", {"state": "held"}),
        "/e/{slug}/me/meetings/{uid}/feedback": (
            "participant",
            {"usefulness": "5", "follow_up": "yes", "cooperation": "project"},
        ),
        "/e/{slug}/me/organisation/members/{key}/confirm": ("participant", {}),
        "/e/{slug}/me/organisation/members/{key}/turn-down": ("participant", {}),
        "/organiser/new": (
            "organiser",
            {"name": "Mallory's fair", "slug": "mallory-fair", "timezone": "Europe/Paris"},
        ),
        "/organiser/e/{slug}/delete": ("organiser", {"confirm": "yes"}),
        "/organiser/e/{slug}/details": ("organiser", {"name": "Renamed"}),
        "/organiser/e/{slug}/sessions/generate": (
            "organiser",
            {
                "session_name": "Extra",
                "day": "2030-09-11",
                "start": "09:00",
                "end": "10:00",
                "meeting_minutes": "20",
                "pause_minutes": "0",
                "action": "save",
            },
        ),
        "/organiser/e/{slug}/sessions/{key}": ("organiser", {"action": "remove"}),
        "/organiser/e/{slug}/slots/{key}": ("organiser", {"action": "remove"}),
        "/organiser/e/{slug}/locations/{kind}": ("organiser", {"count": "3", "first": "50"}),
        "/organiser/e/{slug}/locations/{key}/edit": ("organiser", {"action": "remove"}),
        "/organiser/e/{slug}/rules": ("organiser", {"max_meetings_per_participant": "1"}),
        "/organiser/e/{slug}/setup/registration": ("organiser", {"action": "close"}),
        "/organiser/e/{slug}/team": ("organiser", {"email": "m@example.org", "role": "owner"}),
        "/organiser/e/{slug}/team/{member_id}": ("organiser", {"action": "remove"}),
        "/organiser/e/{slug}/import": ("organiser", {}),
        "/organiser/e/{slug}/import/confirm": ("organiser", {"digest": "x"}),
        "/organiser/e/{slug}/messages": (
            "organiser",
            {"segment": "everyone", "subject": "Hi", "body": "Spam", "action": "send", "seen": "6"},
        ),
        "/organiser/e/{slug}/proposals": (
            "organiser",
            {"per_participant": "3", "action": "send", "seen": "0"},
        ),
        "/organiser/e/{slug}/participants/{key}/confirm-membership": ("organiser", {}),
        "/organiser/e/{slug}/participants/{key}/turn-down-membership": ("organiser", {}),
        "/organiser/e/{slug}/check-in/{key}": ("organiser", {"action": "arrived"}),
        "/organiser/e/{slug}/check-in/{key}/away": (
            "organiser",
            {"action": "away", "away_from": "2024-10-26T09:30"},
        ),
        "/organiser/e/{slug}/rest-of-day": ("organiser", {"frozen_before": "2024-10-26T09:30"}),
        "/organiser/e/{slug}/meetings/{uid}/attendance": ("organiser", {"state": "held"}),
        "/organiser/e/{slug}/report/feedback-mails": ("organiser", {}),
    }


def test_every_form_refuses_a_post_without_a_valid_csrf_token(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    targets = _post_targets(world)
    posts = {path for method, path in page_routes(app) if method == "POST"}
    assert posts - set(targets) == set(), "add the new form to this test"
    before = _counts(app)
    for path in sorted(posts):
        who, data = targets[path]
        url = path.format(slug=world.slug, **FILL)
        for token in (None, "forged", "0" * 64):
            client = {
                "anonymous": browser(app),
                "participant": signed_in_participant(app, world),
                "organiser": signed_in_organiser(app, world),
            }[who]
            client.get("/organiser/login")  # the visitor has a CSRF cookie of their own
            form = dict(data) if token is None else {**data, "csrf_token": token}
            answer = client.post(url, data=form)
            assert answer.status_code == 403, (path, token, answer.status_code)
            assert (
                "set-cookie" not in answer.headers
                or "mm_organiser" not in answer.headers["set-cookie"]
            )
    assert _counts(app) == before


def test_a_csrf_token_of_one_visitor_does_not_work_for_another(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    attacker = browser(app)
    token = CSRF.search(attacker.get("/organiser/login").text)
    assert token
    victim = signed_in_participant(app, world)
    victim.get("/organiser/login")
    before = _counts(app)
    answer = victim.post(
        f"/e/{world.slug}/wishes",
        data={"csrf_token": token.group(1), "to": "p3", "priority": "1"},
    )
    assert answer.status_code == 403
    assert _counts(app) == before


def test_other_events_pages_are_not_reachable_with_a_participant_cookie(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    client = browser(app)
    assert client.get(
        f"/e/{world.other_slug}/login", params={"token": world.participant_tokens["q1"]}
    )
    for path in ("me", "directory", "wishes", "inbox"):
        assert client.get(f"/e/{world.slug}/{path}").status_code == 401, path


def test_organiser_pages_of_other_events_look_like_missing_ones(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    stranger = signed_in_organiser(app, world, "other_owner")
    for path in (
        "",
        "/versions/1",
        "/versions/1/timetable.csv",
        "/versions/1/edit",
        "/check-in",
        "/check-in/p1",
        "/rest-of-day",
        "/badges",
        "/meetings",
        "/door-lists",
        "/report",
        "/report.xlsx",
    ):
        assert stranger.get(f"/organiser/e/{world.slug}{path}").status_code == 404, path
    assert stranger.get(f"/organiser/e/{world.slug}/jobs/{world.job_id}.json").status_code == 404


# --- probe 2026-12: sessions, CSRF bound to them, cross-site requests, caching ---------------


def _wish_status(app: FastAPI, key: str) -> str:
    with sessionmaker(bind=app.state.engine)() as db:
        wish = db.scalar(select(Wish).where(Wish.key == key))
        assert wish is not None
        return str(wish.status.value)


def _logout(client: TestClient) -> None:
    csrf = CSRF.search(client.get("/organiser").text)
    assert csrf
    assert client.post("/organiser/logout", data={"csrf_token": csrf.group(1)}).status_code == 303


def test_the_organiser_cookie_is_a_session_of_its_own_and_dies_at_sign_out(
    pages: tuple[FastAPI, World],
) -> None:
    from matchmaking.platform.models import BrowserSession
    from matchmaking.platform.security import hash_token

    app, world = pages
    api_token = world.organiser_tokens["owner"]
    client = browser(app)
    cookie = sign_in_organiser(client, api_token)
    assert cookie.startswith("mms_")
    assert cookie != api_token
    with sessionmaker(bind=app.state.engine)() as db:
        row = db.scalar(
            select(BrowserSession).where(BrowserSession.token_hash == hash_token(cookie))
        )
        assert row is not None
        assert row.expires_at is not None
        assert cookie not in {row.token_hash}
        assert api_token not in {row.token_hash}
    assert client.get(f"/organiser/e/{world.slug}").status_code == 200
    _logout(client)
    # The cookie copied before sign-out no longer signs anyone in.
    replay = browser(app)
    replay.cookies.set("mm_organiser", cookie)
    assert replay.get(f"/organiser/e/{world.slug}").status_code == 401
    assert replay.get("/organiser").headers["location"] == "/organiser/login"
    # A second sign-in is a new session; the API token itself was never a cookie.
    assert sign_in_organiser(browser(app), api_token) != cookie
    raw = browser(app)
    raw.cookies.set("mm_organiser", api_token)
    assert raw.get(f"/organiser/e/{world.slug}").status_code == 401


def test_the_participant_cookie_is_a_session_that_a_new_personal_link_ends(
    pages: tuple[FastAPI, World],
) -> None:
    from matchmaking.platform.security import hash_token, new_token

    app, world = pages
    client = signed_in_participant(app, world)
    cookie = client.cookies.get("mm_participant")
    assert cookie
    assert cookie.startswith("mms_")
    assert cookie != world.participant_tokens["p1"]
    assert client.get(f"/e/{world.slug}/me").status_code == 200
    raw = browser(app)
    raw.cookies.set("mm_participant", world.participant_tokens["p1"])
    assert raw.get(f"/e/{world.slug}/me").status_code == 401
    with sessionmaker(bind=app.state.engine)() as db:
        person = db.scalar(select(Participant).where(Participant.email == "p1@example.org"))
        assert person is not None
        person.access_token_hash = hash_token(new_token("mmp"))  # a new personal link
        db.commit()
    assert client.get(f"/e/{world.slug}/me").status_code == 401


def test_a_csrf_token_of_another_session_is_refused(pages: tuple[FastAPI, World]) -> None:
    # The probe's attack: the attacker's own CSRF cookie and token, sent along with the
    # victim's participant cookie, declined the victim's wish.
    app, world = pages
    attacker = signed_in_participant(app, world, "p3")
    csrf = CSRF.search(attacker.get(f"/e/{world.slug}/directory").text)
    assert csrf
    victim = signed_in_participant(app, world, "p1")
    forged = browser(app)
    forged.cookies.set("mm_csrf", str(attacker.cookies.get("mm_csrf")))
    forged.cookies.set("mm_participant", str(victim.cookies.get("mm_participant")))
    answer = forged.post(
        f"/e/{world.slug}/wishes/w2", data={"csrf_token": csrf.group(1), "action": "decline"}
    )
    assert answer.status_code == 403
    assert _wish_status(app, "w2") == "requested"
    # The victim's own form still works.
    own = CSRF.search(victim.get(f"/e/{world.slug}/inbox").text)
    assert own
    answer = victim.post(
        f"/e/{world.slug}/wishes/w2", data={"csrf_token": own.group(1), "action": "decline"}
    )
    assert answer.status_code in (200, 303)
    assert _wish_status(app, "w2") == "declined"


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_the_json_api_takes_no_cookie_for_changes_and_refuses_foreign_origins(
    pages: tuple[FastAPI, World], action: str
) -> None:
    app, world = pages
    client = signed_in_participant(app, world)  # holds the participant's session cookie
    url = f"/api/v1/events/{world.slug}/me/wishes/w2/{action}"
    # A body-less POST with only the cookie, as another site's page could make it send.
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Origin": "https://evil.example"}).status_code in (401, 403)
    headers = world.headers("participant")
    for foreign in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = client.post(url, headers={**headers, **foreign})
        assert answer.status_code == 403, foreign
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "/problems/cross-site-request"
    links = client.post(
        f"/api/v1/events/{world.slug}/me/calendar-links", headers={"Origin": "https://evil.example"}
    )
    assert links.status_code in (401, 403)
    assert _wish_status(app, "w2") == "requested"
    # The same request from this site with the header credential is answered.
    own = client.post(url, headers={**headers, "Origin": "http://testserver"})
    assert own.status_code == 200, own.text
    # Reading with the cookie still works (the agenda page's calendar download).
    assert client.get(f"/api/v1/events/{world.slug}/me/calendar.ics").status_code == 200


def test_a_page_form_posted_from_another_site_is_refused(pages: tuple[FastAPI, World]) -> None:
    app, world = pages
    client = signed_in_participant(app, world)
    csrf = CSRF.search(client.get(f"/e/{world.slug}/inbox").text)
    assert csrf
    answer = client.post(
        f"/e/{world.slug}/wishes/w2",
        data={"csrf_token": csrf.group(1), "action": "decline"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert _wish_status(app, "w2") == "requested"


def test_personal_pages_and_json_are_private_no_store_and_feeds_private_with_validators(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    participant = signed_in_participant(app, world)
    organiser = signed_in_organiser(app, world)
    for client, path in (
        (participant, f"/e/{world.slug}/me"),
        (participant, f"/e/{world.slug}/inbox"),
        (participant, f"/e/{world.slug}/directory"),
        (organiser, f"/organiser/e/{world.slug}"),
        (organiser, f"/organiser/e/{world.slug}/versions/1"),
        (organiser, "/organiser"),
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "private, no-store", path
    api = browser(app)
    for path, headers in (
        (f"/api/v1/events/{world.slug}/me", world.headers("participant")),
        (f"/api/v1/events/{world.slug}/me/wishes", world.headers("participant")),
        (f"/api/v1/events/{world.slug}/participants", world.headers("owner")),
        ("/api/v1/organisers/me", world.headers("owner")),
    ):
        answer = api.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["cache-control"] == "private, no-store", path
    feed = participant.get(f"/api/v1/events/{world.slug}/me/calendar.ics")
    assert feed.headers["cache-control"].startswith("private")
    assert feed.headers["etag"]
    assert feed.headers["last-modified"]
    again = participant.get(
        f"/api/v1/events/{world.slug}/me/calendar.ics",
        headers={"If-None-Match": feed.headers["etag"]},
    )
    assert again.status_code == 304


def test_cookies_are_host_prefixed_when_the_site_is_https(db_url: str) -> None:
    app = create_app(make_settings(db_url, base_url="https://mm.example.org", log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as db:
        world = build_world(db)
    client = browser(app, https=True)
    page = client.get("/organiser/login")
    csrf = CSRF.search(page.text)
    assert csrf
    signed_in = client.post(
        "/organiser/login",
        data={"csrf_token": csrf.group(1), "token": world.organiser_tokens["owner"]},
    )
    assert signed_in.status_code == 303
    cookies = [*page.headers.get_list("set-cookie"), *signed_in.headers.get_list("set-cookie")]
    names = {c.split("=")[0] for c in cookies}
    assert names == {"__Host-mm_csrf", "__Host-mm_organiser"}
    for cookie in cookies:
        flags = _cookie_flags(cookie)
        assert {"secure", "path=/", "httponly"} <= flags, cookie
        assert not any(f.startswith("domain") for f in flags), cookie
    assert client.get(f"/organiser/e/{world.slug}").status_code == 200
    # A bare-named cookie (set by a plain-http page or a sibling host) is not read.
    bare = browser(app, https=True)
    bare.cookies.set("mm_organiser", str(client.cookies.get("__Host-mm_organiser")))
    assert bare.get(f"/organiser/e/{world.slug}").status_code == 401
    app.state.engine.dispose()


def test_a_form_of_the_site_itself_with_origin_null_is_accepted(
    pages: tuple[FastAPI, World],
) -> None:
    # Browsers send `Origin: null` for a page's own forms when its Referrer-Policy is
    # no-referrer (ours is); Sec-Fetch-Site tells where it came from.
    app, world = pages
    client = signed_in_participant(app, world)
    csrf = CSRF.search(client.get(f"/e/{world.slug}/inbox").text)
    assert csrf
    form = {"csrf_token": csrf.group(1), "action": "decline"}
    refused = client.post(
        f"/e/{world.slug}/wishes/w2",
        data=form,
        headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    )
    assert refused.status_code == 403
    assert _wish_status(app, "w2") == "requested"
    answer = client.post(
        f"/e/{world.slug}/wishes/w2",
        data=form,
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code in (200, 303)
    assert _wish_status(app, "w2") == "declined"
