"""The web pages: security headers on every page, safe cookies, and CSRF on every form.

Page routes are read from the app itself, so a new page or form cannot skip these checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from matchmaking.models import Participant, ScheduleVersion, SolveJob, Wish
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


def page_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every HTML page route (not the JSON API, not the static files)."""
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.include_in_schema:
            continue
        if route.path.startswith(("/api/", "/static/")):
            continue
        found += [(method, route.path) for method in sorted(route.methods or [])]
    return found


def browser(app: FastAPI, *, https: bool = False) -> TestClient:
    return TestClient(
        app, base_url="https://testserver" if https else "http://testserver", follow_redirects=False
    )


def signed_in_participant(app: FastAPI, world: World) -> TestClient:
    client = browser(app)
    assert client.get(f"/e/{world.slug}/login", params={"token": world.participant_tokens["p1"]})
    return client


def signed_in_organiser(app: FastAPI, world: World) -> TestClient:
    client = browser(app)
    client.cookies.set("mm_organiser", world.organiser_tokens["owner"])
    return client


GET_PAGES = [
    ("anonymous", "/"),
    ("anonymous", "/e/{slug}"),
    ("anonymous", "/e/{slug}/register"),
    ("anonymous", "/organiser/login"),
    ("anonymous", "/e/{slug}/link"),
    ("participant", "/e/{slug}/me"),
    ("participant", "/e/{slug}/directory"),
    ("participant", "/e/{slug}/wishes"),
    ("participant", "/e/{slug}/inbox"),
    ("organiser", "/organiser"),
    ("organiser", "/organiser/e/{slug}"),
    ("organiser", "/organiser/e/{slug}/versions/1"),
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
        page = clients[who].get(path.format(slug=world.slug))
        assert page.status_code in (200, 404), (path, page.status_code)
        headers = page.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
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
    }
    gets = {path for method, path in page_routes(app) if method == "GET"}
    assert gets - tested - not_pages == set()


def _cookie_flags(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


def test_cookies_are_http_only_same_site_and_secure_over_https(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    client = browser(app, https=True)
    answers = [
        client.get("/organiser/login"),  # CSRF cookie
        client.get(f"/e/{world.slug}/login", params={"token": world.participant_tokens["p1"]}),
    ]
    csrf = CSRF.search(answers[0].text)
    assert csrf
    answers.append(
        client.post(
            "/organiser/login",
            data={"csrf_token": csrf.group(1), "token": world.organiser_tokens["owner"]},
        )
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
            assert "csrf_token" in form or ".csrf()" in form, f"{template.name}: no CSRF field"
    assert forms >= 8


def _counts(app: FastAPI) -> tuple[int, int, int, int, str]:
    with sessionmaker(bind=app.state.engine)() as db:
        version = db.scalar(select(ScheduleVersion).where(ScheduleVersion.number == 1))
        return (
            db.scalar(select(func.count()).select_from(Participant)) or 0,
            db.scalar(select(func.count()).select_from(Wish)) or 0,
            db.scalar(select(func.count()).select_from(SolveJob)) or 0,
            len(db.scalars(select(ScheduleVersion)).all()),
            str(version.published_at if version else None),
        )


def _post_targets(world: World) -> dict[str, tuple[str, dict[str, str]]]:
    """A form submission for each POST page route that would change something if accepted."""
    return {
        "/organiser/login": ("anonymous", {"token": world.organiser_tokens["owner"]}),
        "/organiser/logout": ("organiser", {}),
        "/organiser/e/{slug}/solve": ("organiser", {"time_limit": "5"}),
        "/organiser/e/{slug}/versions/{number}/publish": ("organiser", {"force": "yes"}),
        "/organiser/e/{slug}/registration": ("organiser", {"action": "close"}),
        "/e/{slug}/me/calendar": ("participant", {}),
        "/e/{slug}/wishes": ("participant", {"to": "p3", "priority": "1"}),
        "/e/{slug}/wishes/{key}": ("participant", {"action": "accept"}),
        "/e/{slug}/register": (
            "anonymous",
            {"name": "Mallory", "email": "m@example.org", "organisation": "Evil", "kind": "other"},
        ),
        "/e/{slug}/link": ("anonymous", {"email": "p1@example.org"}),
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
        url = path.format(slug=world.slug, number=1, key="w2")
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
    client.cookies.set("mm_participant", world.participant_tokens["q1"])
    for path in ("me", "directory", "wishes", "inbox"):
        assert client.get(f"/e/{world.slug}/{path}").status_code == 401, path


def test_organiser_pages_of_other_events_look_like_missing_ones(
    pages: tuple[FastAPI, World],
) -> None:
    app, world = pages
    stranger = browser(app)
    stranger.cookies.set("mm_organiser", world.organiser_tokens["other_owner"])
    for path in ("", "/versions/1", "/versions/1/timetable.csv"):
        assert stranger.get(f"/organiser/e/{world.slug}{path}").status_code == 404, path
    assert stranger.get(f"/organiser/e/{world.slug}/jobs/{world.job_id}.json").status_code == 404
