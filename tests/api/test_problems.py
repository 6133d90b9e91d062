"""Errors are RFC 9457 problem details; the OpenAPI document is valid and complete."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import Factory, make_settings

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "errors"}


def test_unknown_path_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert set(missing.json()) == PROBLEM_KEYS
    assert missing.json()["instance"] == "/api/v1/nothing-here"
    wrong_method = client.put("/api/v1/organisers/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == 405


def test_malformed_json_names_the_body(client: TestClient, make: Factory) -> None:
    answer = client.post(
        "/api/v1/events",
        content=b'{"slug": ',
        headers={**make.organiser(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body"


def test_body_over_the_limit_is_refused_with_413(db_url: str) -> None:
    app = create_app(make_settings(db_url, max_body_bytes=1000))
    with TestClient(app) as small:
        declared = small.post("/api/v1/events", content=b"x" * 2000)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        def chunks():  # no Content-Length: the body is streamed
            for _ in range(20):
                yield b"x" * 100

        streamed = small.post("/api/v1/events", content=chunks())
        assert streamed.status_code == 413
    app.state.engine.dispose()


def test_unexpected_error_is_a_500_problem_without_traceback(app: FastAPI) -> None:
    def explode() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.add_api_route("/api/v1/test-explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/test-explode")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text


@pytest.fixture
def bare_client(tmp_path: Path, sqlite_template: Path) -> Iterator[TestClient]:
    """A client on SQLite only, for documents that do not depend on the database."""
    path = tmp_path / "docs.db"
    path.write_bytes(sqlite_template.read_bytes())
    app = create_app(make_settings(f"sqlite:///{path}"))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_openapi_document_is_valid_and_documents_problems_and_callers(
    bare_client: TestClient,
) -> None:
    from openapi_spec_validator import validate

    document = bare_client.get("/api/v1/openapi.json").json()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validate(document)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    mine = {"organisers", "events", "participants", "wishes"}
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not set(operation.get("tags", [])) & mine:
                continue
            checked += 1
            assert "**Who:**" in operation.get("description", ""), (method, path)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert "application/problem+json" in response["content"], (method, path)
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in operation["responses"], (method, path)
    assert checked > 40


def test_docs_page_is_served(bare_client: TestClient) -> None:
    answer = bare_client.get("/api/v1/docs")
    assert answer.status_code == 200
    assert "openapi.json" in answer.text


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    answer = client.put("/api/v1/events")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    literal = client.options("/api/v1/events/import")
    assert literal.headers["allow"] == "POST"


def test_instants_in_answers_carry_their_offset(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner, wish_cutoff="2030-06-01T12:00:00+02:00")
    event = client.get(f"/api/v1/events/{slug}", headers=owner).json()
    assert event["wish_cutoff"] == "2030-06-01T10:00:00Z"
    assert event["created_at"].endswith("Z")
    slot = client.get(f"/api/v1/events/{slug}/slots", headers=owner).json()[0]
    assert slot["start"] == "2030-09-10T09:00:00"  # local wall-clock time, no offset


def test_booleans_and_numbers_are_not_guessed_from_other_types(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    answer = client.post(
        f"/api/v1/events/{slug}/registrations",
        json={"name": "A", "email": "a@example.org", "organisation": {"name": "A"}, "listed": 0},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.listed"
