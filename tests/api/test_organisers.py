"""Organiser accounts and API tokens."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Factory, bearer


def test_organiser_creates_another_organiser_whose_token_works(
    client: TestClient, make: Factory
) -> None:
    admin = make.organiser()
    answer = client.post(
        "/api/v1/organisers",
        json={"email": "Nora.Lind@Cluster.eu", "name": "Nora Lind"},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["organiser"]["email"] == "nora.lind@cluster.eu"
    token = created["token"]["token"]
    assert token.startswith("mmo_")
    assert created["token"]["prefix"] == token[:12]
    me = client.get("/api/v1/organisers/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["name"] == "Nora Lind"


def test_anonymous_caller_cannot_create_organisers(client: TestClient) -> None:
    answer = client.post("/api/v1/organisers", json={"email": "a@b.org", "name": "A"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"] == "Bearer"


def test_participant_token_is_not_an_organiser_token(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser())
    participant = make.participant(slug)
    answer = client.post(
        "/api/v1/organisers",
        json={"email": "a@b.org", "name": "A"},
        headers={"Authorization": f"Bearer {participant['access_token']}"},
    )
    assert answer.status_code == 401


def test_duplicate_organiser_email_is_a_conflict_naming_the_field(
    client: TestClient, make: Factory
) -> None:
    admin = make.organiser("taken@example.org")
    answer = client.post(
        "/api/v1/organisers", json={"email": "TAKEN@example.org", "name": "X"}, headers=admin
    )
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["field"] == "body.email"


def test_invalid_email_is_refused_naming_the_field(client: TestClient, make: Factory) -> None:
    answer = client.post(
        "/api/v1/organisers", json={"email": "not-an-email", "name": ""}, headers=make.organiser()
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert {e["field"] for e in problem["errors"]} == {"body.email", "body.name"}
    assert problem["status"] == 422
    assert problem["instance"] == "/api/v1/organisers"


def test_revoked_token_is_refused_and_listing_never_shows_token_text(
    client: TestClient, make: Factory
) -> None:
    admin = make.organiser()
    issued = client.post("/api/v1/organisers/me/tokens", json={"name": "ci"}, headers=admin)
    assert issued.status_code == 201
    second = issued.json()
    assert client.get("/api/v1/organisers/me", headers=bearer(second["token"])).status_code == 200

    listed = client.get("/api/v1/organisers/me/tokens", headers=admin).json()
    assert [t["name"] for t in listed] == ["initial", "ci"]
    assert all("token" not in t for t in listed)
    assert listed[1]["last_used_at"] is not None

    revoked = client.delete(f"/api/v1/organisers/me/tokens/{second['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/organisers/me", headers=bearer(second["token"])).status_code == 401


def test_organiser_cannot_revoke_tokens_of_another_organiser(
    client: TestClient, make: Factory
) -> None:
    first = make.organiser()
    other = make.organiser()
    tokens = client.get("/api/v1/organisers/me/tokens", headers=other).json()
    answer = client.delete(f"/api/v1/organisers/me/tokens/{tokens[0]['id']}", headers=first)
    assert answer.status_code == 404
    assert client.get("/api/v1/organisers/me", headers=other).status_code == 200
