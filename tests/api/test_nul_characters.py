"""A NUL character in an API request's path or query is refused with a 422 naming it; in a
JSON body it is named too when only the database refuses it; nothing is changed (found by the
re-probe of issue 11: PostgreSQL refused such values without saying which one)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from matchmaking.platform.models import Wish
from tests.api.conftest import Factory


def _refused(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"] == [
        {"field": field, "message": "must not contain a NUL character (U+0000)"}
    ]


def test_nul_in_the_path_the_query_or_the_body_is_named(make: Factory, client: TestClient) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(slug)
    other = make.participant(slug)
    _refused(client.get("/api/v1/events/%00", headers=owner), "path")
    _refused(client.get(f"/api/v1/events/{slug}/participants/p%001", headers=owner), "path")
    _refused(
        client.get(f"/api/v1/events/{slug}/directory?q=a%00b", headers=person["headers"]),
        "query.q",
    )
    wishes = f"/api/v1/events/{slug}/me/wishes"
    sent = client.post(
        wishes, json={"to": other["participant"]["key"] + "\x00"}, headers=person["headers"]
    )
    # No participant has that key: SQLite answers so; PostgreSQL cannot even compare the text,
    # and the answer names the field that holds the NUL.
    assert sent.status_code in (404, 422), sent.text
    if make.app.state.engine.dialect.name == "postgresql":
        _refused(sent, "body.to")
    # A body with other problems lists them all (the NUL field among them).
    edited = client.patch(
        f"/api/v1/events/{slug}",
        json={"venue": "Hall\tA", "name": "Expo\x00"},
        headers=owner,
    )
    assert edited.status_code == 422
    assert {e["field"] for e in edited.json()["errors"]} == {"body.venue", "body.name"}
    with make.app.state.sessionmaker() as db:
        assert db.scalar(select(func.count()).select_from(Wish)) == 0
    # Without the NUL the same wish goes through.
    fine = client.post(wishes, json={"to": other["participant"]["key"]}, headers=person["headers"])
    assert fine.status_code == 201, fine.text
