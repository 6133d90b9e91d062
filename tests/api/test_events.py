"""Events: creation, editing, lifecycle, roles, the time grid, locations, who may do what."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Factory


def test_creator_owns_the_new_draft_event(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    answer = client.post(
        "/api/v1/events",
        json={
            "slug": "eu-canada-2030",
            "name": "EU–Canada Cluster Matchmaking",
            "timezone": "America/Toronto",
            "registration_closes": "2030-05-28T23:59:00-04:00",
            "rules": {"max_meetings_per_participant": 12, "objective": ["required", "breaks"]},
        },
        headers=owner,
    )
    assert answer.status_code == 201, answer.text
    event = answer.json()
    assert event["status"] == "draft"
    assert event["role"] == "owner"
    assert event["registration_closes"].startswith("2030-05-29T03:59")
    assert event["rules"] == {
        "max_meetings_per_participant": 12,
        "max_break_difference": None,
        "max_meetings_total": None,
        "objective": ["required", "breaks"],
        "cross_delegation_only": False,
    }
    listed = client.get("/api/v1/events", headers=owner).json()
    assert listed["total"] == 1
    assert listed["items"][0]["slug"] == "eu-canada-2030"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "A b", "name": "x", "timezone": "Europe/Berlin"}, "body.slug"),
        ({"slug": "good-slug", "name": "x", "timezone": "Mars/Olympus"}, "body.timezone"),
        (
            {"slug": "good-slug", "name": "x", "timezone": "UTC", "rules": {"objective": ["x"]}},
            "body.rules.objective.0",
        ),
        (
            {
                "slug": "good-slug",
                "name": "x",
                "timezone": "UTC",
                "wish_cutoff": "2030-01-01T10:00",
            },
            "body.wish_cutoff",
        ),
    ],
)
def test_invalid_event_is_refused_naming_the_field(
    client: TestClient, make: Factory, body: dict[str, object], field: str
) -> None:
    answer = client.post("/api/v1/events", json=body, headers=make.organiser())
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in answer.json()["errors"]]


def test_slug_in_use_is_a_conflict(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    make.event(owner, "taken-slug")
    answer = client.post(
        "/api/v1/events",
        json={"slug": "taken-slug", "name": "x", "timezone": "UTC"},
        headers=make.organiser(),
    )
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["field"] == "body.slug"


def test_generated_slots_fill_the_session_with_pauses(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    slots = client.get(f"/api/v1/events/{slug}/slots", headers=owner).json()
    # 09:00–10:30 with 20-minute meetings and 5-minute pauses: 09:00, 09:25, 09:50 (10:15
    # would end at 10:35, after the session).
    assert [(s["key"], s["start"][11:16], s["end"][11:16]) for s in slots] == [
        ("s1", "09:00", "09:20"),
        ("s2", "09:25", "09:45"),
        ("s3", "09:50", "10:10"),
    ]
    more = client.post(
        f"/api/v1/events/{slug}/sessions",
        json={"key": "pm", "name": "Afternoon"},
        headers=owner,
    )
    assert more.status_code == 201
    generated = client.post(
        f"/api/v1/events/{slug}/sessions/pm/slots/generate",
        json={"start": "2030-09-10T14:00", "end": "2030-09-10T15:00", "meeting_minutes": 30},
        headers=owner,
    )
    assert [s["key"] for s in generated.json()] == ["s4", "s5"]


def test_slot_overlapping_another_is_refused_and_nothing_is_stored(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    answer = client.post(
        f"/api/v1/events/{slug}/sessions/am/slots",
        json={"start": "2030-09-10T09:10", "end": "2030-09-10T09:30"},
        headers=owner,
    )
    assert answer.status_code == 422
    assert "overlaps" in answer.json()["detail"]
    assert len(client.get(f"/api/v1/events/{slug}/slots", headers=owner).json()) == 3


def test_slot_in_a_daylight_saving_gap_is_refused(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    answer = client.post(
        f"/api/v1/events/{slug}/sessions/am/slots",
        json={"start": "2030-03-31T02:10", "end": "2030-03-31T02:40"},
        headers=owner,
    )
    assert answer.status_code == 422
    assert "does not exist" in answer.json()["detail"]


def test_slot_times_are_only_accepted_as_published(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    for start in ("2030-09-11 09:00", "2030-09-11", 1915340400, "2030-09-11T09:00\n"):
        answer = client.post(
            f"/api/v1/events/{slug}/sessions/am/slots",
            json={"start": start, "end": "2030-09-11T09:20"},
            headers=owner,
        )
        assert answer.status_code == 422, start
        assert "start" in answer.text
        assert "YYYY-MM-DDTHH:MM" in answer.text
    assert len(client.get(f"/api/v1/events/{slug}/slots", headers=owner).json()) == 3


def test_opening_needs_slots_and_locations_and_follows_the_lifecycle(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    client.post(
        "/api/v1/events", json={"slug": "bare", "name": "Bare", "timezone": "UTC"}, headers=owner
    )
    assert client.post("/api/v1/events/bare/open", headers=owner).status_code == 409
    slug = make.event(owner)
    assert client.post(f"/api/v1/events/{slug}/close", headers=owner).status_code == 409
    assert client.post(f"/api/v1/events/{slug}/open", headers=owner).json()["status"] == "open"
    assert client.post(f"/api/v1/events/{slug}/open", headers=owner).status_code == 409
    assert client.post(f"/api/v1/events/{slug}/close", headers=owner).json()["status"] == "closed"


def test_patch_changes_only_the_fields_sent_and_clears_nullable_ones(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.event(owner, max_requests_per_participant=5, venue="Hall A")
    answer = client.patch(
        f"/api/v1/events/{slug}",
        json={"max_requests_per_participant": None, "wish_policy": "auto_accept"},
        headers=owner,
    )
    assert answer.status_code == 200
    event = answer.json()
    assert event["max_requests_per_participant"] is None
    assert event["wish_policy"] == "auto_accept"
    assert event["venue"] == "Hall A"
    refused = client.patch(f"/api/v1/events/{slug}", json={"name": None}, headers=owner)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.name"


def test_rules_are_replaced_whole(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner, rules={"max_meetings_per_participant": 8})
    answer = client.put(
        f"/api/v1/events/{slug}/rules", json={"max_break_difference": 2}, headers=owner
    )
    assert answer.json()["rules"]["max_meetings_per_participant"] is None
    assert answer.json()["rules"]["max_break_difference"] == 2
    twice = client.put(
        f"/api/v1/events/{slug}/rules", json={"objective": ["breaks", "breaks"]}, headers=owner
    )
    assert twice.status_code == 422


def test_locations_crud(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    created = client.post(
        f"/api/v1/events/{slug}/locations",
        json={"key": "video", "name": "Video room", "kind": "online", "capacity": 50},
        headers=owner,
    )
    assert created.status_code == 201
    assert created.json()["position"] == 2
    assert (
        client.post(
            f"/api/v1/events/{slug}/locations", json={"key": "video", "name": "x"}, headers=owner
        ).status_code
        == 409
    )
    edited = client.patch(
        f"/api/v1/events/{slug}/locations/video", json={"capacity": 80}, headers=owner
    )
    assert edited.json()["capacity"] == 80
    bad = client.patch(
        f"/api/v1/events/{slug}/locations/video", json={"capacity": 0}, headers=owner
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.capacity"
    assert client.delete(f"/api/v1/events/{slug}/locations/video", headers=owner).status_code == 204
    keys = [x["key"] for x in client.get(f"/api/v1/events/{slug}/locations", headers=owner).json()]
    assert keys == ["t1", "t2"]


def test_staff_manage_the_event_but_not_roles_or_deletion(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    staff = make.organiser("staff@example.org")
    slug = make.event(owner)
    granted = client.put(
        f"/api/v1/events/{slug}/roles", json={"email": "staff@example.org"}, headers=owner
    )
    assert [r["role"] for r in granted.json()] == ["owner", "staff"]
    assert client.get(f"/api/v1/events/{slug}", headers=staff).json()["role"] == "staff"
    assert client.post(f"/api/v1/events/{slug}/open", headers=staff).status_code == 200
    assert client.delete(f"/api/v1/events/{slug}", headers=staff).status_code == 403
    assert (
        client.put(
            f"/api/v1/events/{slug}/roles",
            json={"email": "staff@example.org", "role": "owner"},
            headers=staff,
        ).status_code
        == 403
    )
    staff_id = granted.json()[1]["organiser_id"]
    leaving = client.delete(f"/api/v1/events/{slug}/roles/{staff_id}", headers=staff)
    assert leaving.status_code == 403
    assert client.delete(f"/api/v1/events/{slug}", headers=owner).status_code == 204
    assert client.get(f"/api/v1/events/{slug}", headers=owner).status_code == 404


def test_the_last_owner_cannot_leave(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    me = client.get("/api/v1/organisers/me", headers=owner).json()
    answer = client.delete(f"/api/v1/events/{slug}/roles/{me['id']}", headers=owner)
    assert answer.status_code == 409


ORGANISER_ENDPOINTS = [
    ("GET", ""),
    ("PATCH", ""),
    ("DELETE", ""),
    ("POST", "/open"),
    ("POST", "/close"),
    ("PUT", "/rules"),
    ("GET", "/roles"),
    ("PUT", "/roles"),
    ("DELETE", "/roles/1"),
    ("GET", "/sessions"),
    ("POST", "/sessions"),
    ("GET", "/sessions/am"),
    ("PATCH", "/sessions/am"),
    ("DELETE", "/sessions/am"),
    ("POST", "/sessions/am/slots"),
    ("POST", "/sessions/am/slots/generate"),
    ("GET", "/slots"),
    ("PATCH", "/slots/s1"),
    ("DELETE", "/slots/s1"),
    ("GET", "/locations"),
    ("POST", "/locations"),
    ("GET", "/locations/t1"),
    ("PATCH", "/locations/t1"),
    ("DELETE", "/locations/t1"),
    ("GET", "/bundle"),
    ("GET", "/participants"),
    ("GET", "/participants/p1"),
    ("PATCH", "/participants/p1"),
    ("GET", "/organisations"),
    ("GET", "/wishes"),
    ("PATCH", "/wishes/w1"),
]


def test_organiser_endpoints_refuse_everyone_without_a_role(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    other_slug = make.open_event(other_owner := make.organiser())
    participant = make.participant(slug)
    stranger = make.participant(other_slug)
    callers = {
        "anonymous": ({}, 401),
        "participant of this event": (participant["headers"], 401),
        "participant of another event": (stranger["headers"], 401),
        "owner of another event": (other_owner, 404),
    }
    for method, path in ORGANISER_ENDPOINTS:
        body = {} if method in ("PATCH", "PUT", "POST") else None
        for who, (headers, expected) in callers.items():
            answer = client.request(
                method, f"/api/v1/events/{slug}{path}", json=body, headers=headers
            )
            assert answer.status_code == expected, (method, path, who, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/events/{slug}/slots", headers=owner).json()[0]["key"] == "s1"


def test_unknown_event_and_event_without_role_look_the_same(
    client: TestClient, make: Factory
) -> None:
    slug = make.event(make.organiser())
    outsider = make.organiser()
    hidden = client.get(f"/api/v1/events/{slug}", headers=outsider)
    missing = client.get("/api/v1/events/no-such-event", headers=outsider)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["title"] == missing.json()["title"]


def test_public_event_page_hides_drafts(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    draft = make.event(owner)
    assert client.get(f"/api/v1/events/{draft}/public").status_code == 404
    client.post(f"/api/v1/events/{draft}/open", headers=owner)
    public = client.get(f"/api/v1/events/{draft}/public").json()
    assert public["registration_open"] is True
    assert [s["key"] for s in public["sessions"][0]["slots"]] == ["s1", "s2", "s3"]


def test_text_the_bundle_format_refuses_is_refused_on_input(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    answer = client.patch(
        f"/api/v1/events/{slug}",
        json={"venue": "Hall\tA", "video_base_url": "ftp://rooms", "name": "Expo\x00"},
        headers=owner,
    )
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"body.venue", "body.video_base_url", "body.name"}
    kept = client.patch(
        f"/api/v1/events/{slug}", json={"description": "Line one\nLine two"}, headers=owner
    )
    assert kept.status_code == 200
    assert client.get(f"/api/v1/events/{slug}/bundle", headers=owner).status_code == 200


def test_numbers_beyond_what_is_stored_are_refused(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.event(owner)
    too_big = client.delete(f"/api/v1/events/{slug}/roles/{2**63}", headers=owner)
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "path.organiser_id"
    position = client.patch(
        f"/api/v1/events/{slug}/locations/t1", json={"position": 2**40}, headers=owner
    )
    assert position.status_code == 422
