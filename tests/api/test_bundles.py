"""Bundle import and export through the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from matchmaking.bundle.dump import bundle_document
from matchmaking.bundle.validate import parse_bundle
from tests.api.conftest import Factory


def small_bundle(slug: str = "small-fair") -> dict[str, Any]:
    return {
        "format": "matchmaking-bundle/1",
        "event": {"slug": slug, "name": "Small fair", "timezone": "Europe/Berlin"},
        "sessions": [
            {
                "id": "am",
                "name": "Morning",
                "slots": [
                    {"id": "s1", "start": "2030-09-10T09:00", "end": "2030-09-10T09:20"},
                    {"id": "s2", "start": "2030-09-10T09:30", "end": "2030-09-10T09:50"},
                ],
            }
        ],
        "locations": [{"id": "t1", "name": "Table 1", "kind": "table"}],
        "organisations": [
            {"id": "o1", "name": "Cluster A", "kind": "cluster", "country": "DE"},
            {"id": "o2", "name": "Acme", "kind": "company", "country": "CA"},
        ],
        "participants": [
            {"id": "p1", "name": "Ann", "organisation": "o1", "unavailable": ["s2"]},
            {"id": "p2", "name": "Bob", "organisation": "o2"},
        ],
        "wishes": [{"id": "w1", "from": "p1", "to": "p2", "priority": 1}],
    }


def test_imported_bundle_exports_as_the_same_document(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    imported = client.post("/api/v1/events/import", json=small_bundle(), headers=owner)
    assert imported.status_code == 201, imported.text
    assert imported.json()["role"] == "owner"
    assert imported.json()["counts"]["participants"] == 2
    exported = client.get("/api/v1/events/small-fair/bundle", headers=owner)
    assert exported.status_code == 200
    assert exported.json() == bundle_document(parse_bundle(small_bundle()))


def test_invalid_bundle_is_refused_whole_with_every_problem_by_path(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    bundle = small_bundle()
    bundle["wishes"][0]["to"] = "p99"
    bundle["participants"][1]["organisation"] = "o9"
    answer = client.post("/api/v1/events/import", json=bundle, headers=owner)
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"/wishes/0/to", "/participants/1/organisation"} <= fields
    assert client.get("/api/v1/events", headers=owner).json()["total"] == 0


def test_bundle_with_a_slug_in_use_is_a_conflict(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    make.event(owner, "small-fair")
    answer = client.post("/api/v1/events/import", json=small_bundle(), headers=owner)
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["field"] == "/event/slug"


def test_only_organisers_import_and_only_the_events_organisers_export(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    assert client.post("/api/v1/events/import", json=small_bundle()).status_code == 401
    client.post("/api/v1/events/import", json=small_bundle(), headers=owner)
    assert (
        client.get("/api/v1/events/small-fair/bundle", headers=make.organiser()).status_code == 404
    )


def test_an_event_being_set_up_is_refused_as_a_bundle_saying_what_to_add(
    client: TestClient, make: Factory
) -> None:
    # Probe of issue 11: an event without sessions, or with a session without slots (both
    # reachable through the API and the set-up pages), made the export answer 500.
    owner = make.organiser()
    created = client.post(
        "/api/v1/events",
        json={"slug": "set-up-2030", "name": "Set up", "timezone": "Europe/Berlin"},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    export = "/api/v1/events/set-up-2030/bundle"
    refused = client.get(export, headers=owner)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "has no sessions" in refused.json()["detail"]
    session = {"key": "d1", "name": "Day 1 morning"}
    added = client.post("/api/v1/events/set-up-2030/sessions", json=session, headers=owner)
    assert added.status_code == 201, added.text
    refused = client.get(export, headers=owner)
    assert refused.status_code == 409
    assert '"Day 1 morning" has none' in refused.json()["detail"]
    slot = {"start": "2030-09-10T09:00", "end": "2030-09-10T09:20"}
    assert (
        client.post(
            "/api/v1/events/set-up-2030/sessions/d1/slots", json=slot, headers=owner
        ).status_code
        == 201
    )
    exported = client.get(export, headers=owner)
    assert exported.status_code == 200, exported.text
    assert parse_bundle(exported.json()).sessions[0].name == "Day 1 morning"
