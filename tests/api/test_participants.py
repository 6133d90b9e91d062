"""Self-registration, the personal link, own profile, the directory, the organisers' view."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Factory, participant_auth


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Kristina Šermukšnytė",
        "email": "kristina@energy.dk",
        "organisation": {
            "name": "Energy Cluster Denmark",
            "kind": "cluster",
            "country": "dk",
            "sectors": ["Energy"],
        },
        "listed": True,
    }
    body.update(overrides)
    return body


def test_registration_returns_the_token_once_and_it_opens_the_profile(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    answer = client.post(
        f"/api/v1/events/{slug}/registrations",
        json=registration(unavailable_slots=["s2"], unavailable_sessions=[]),
    )
    assert answer.status_code == 201, answer.text
    registered = answer.json()
    token = registered["access_token"]
    assert token.startswith("mmp_")
    assert token in registered["link"]
    me = client.get(f"/api/v1/events/{slug}/me", headers=participant_auth(token)).json()
    assert me["organisation"]["country"] == "DK"
    assert me["unavailable_slots"] == ["s2"]
    assert me["attendance"] == "onsite"
    also = client.get(
        f"/api/v1/events/{slug}/me", headers={"Authorization": f"Participant {token}"}
    )
    assert also.status_code == 200
    assert "access_token" not in also.json()


def test_second_registrant_joins_the_organisation_of_the_same_name_pending(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    first = make.participant(slug, **registration())
    second = make.participant(
        slug,
        **registration(
            email="anders@energy.dk",
            organisation={"name": "  energy cluster   DENMARK ", "kind": "company"},
        ),
    )
    assert (
        first["participant"]["organisation"]["key"] == second["participant"]["organisation"]["key"]
    )
    assert second["participant"]["organisation"]["kind"] == "cluster"
    assert first["participant"]["membership_confirmed"] is True
    assert second["participant"]["membership_confirmed"] is False


def test_an_email_registers_once_per_event(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser())
    make.participant(slug, **registration())
    again = client.post(
        f"/api/v1/events/{slug}/registrations",
        json=registration(email="KRISTINA@energy.dk"),
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.email"


def test_registration_is_refused_unless_the_event_is_open(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    draft = make.event(owner)
    assert (
        client.post(f"/api/v1/events/{draft}/registrations", json=registration()).status_code == 404
    )
    client.post(f"/api/v1/events/{draft}/open", headers=owner)
    client.post(f"/api/v1/events/{draft}/close", headers=owner)
    closed = client.post(f"/api/v1/events/{draft}/registrations", json=registration())
    assert closed.status_code == 409
    past = make.open_event(owner, registration_closes="2020-01-01T00:00:00Z")
    late = client.post(f"/api/v1/events/{past}/registrations", json=registration())
    assert late.status_code == 409
    assert "not open" in late.json()["detail"]


def test_invalid_registration_names_each_field_and_stores_nothing(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    answer = client.post(
        f"/api/v1/events/{slug}/registrations",
        json=registration(email="nope", organisation={"name": "", "kind": "startup"}),
    )
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"body.email", "body.organisation.name", "body.organisation.kind"}
    unknown_slot = client.post(
        f"/api/v1/events/{slug}/registrations", json=registration(unavailable_slots=["s1", "s9"])
    )
    assert unknown_slot.status_code == 422
    assert unknown_slot.json()["errors"][0]["field"] == "body.unavailable_slots.1"
    online = client.post(
        f"/api/v1/events/{slug}/registrations", json=registration(attendance="online")
    )
    assert online.status_code == 422
    assert online.json()["errors"][0]["field"] == "body.attendance"
    everyone = client.get(f"/api/v1/events/{slug}/participants", headers=owner).json()
    assert everyone["total"] == 0


def test_focus_areas_must_be_the_events(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser(), focus_areas=["Quantum Technology"])
    bad = registration(organisation={"name": "Q", "focus_areas": ["Quantum Technology", "Space"]})
    answer = client.post(f"/api/v1/events/{slug}/registrations", json=bad)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.organisation.focus_areas.1"


def test_participant_edits_own_profile_and_organisation(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser(), focus_areas=["AI"])
    me = make.participant(slug)
    answer = client.patch(
        f"/api/v1/events/{slug}/me",
        json={
            "job_title": "CEO",
            "listed": False,
            "unavailable_slots": ["s3"],
            "organisation": {"description": "We build AI.", "focus_areas": ["AI"]},
        },
        headers=me["headers"],
    )
    assert answer.status_code == 200, answer.text
    profile = answer.json()
    assert profile["job_title"] == "CEO"
    assert profile["listed"] is False
    assert profile["unavailable_slots"] == ["s3"]
    assert profile["organisation"]["focus_areas"] == ["AI"]
    assert profile["name"] == me["participant"]["name"]
    cleared = client.patch(
        f"/api/v1/events/{slug}/me", json={"organisation": {"name": None}}, headers=me["headers"]
    )
    assert cleared.status_code == 422
    assert cleared.json()["errors"][0]["field"] == "body.organisation.name"


def test_own_profile_is_only_for_participants_of_the_event(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    other = make.participant(make.open_event(make.organiser()))
    for method in ("GET", "PATCH"):
        body = {} if method == "PATCH" else None
        url = f"/api/v1/events/{slug}/me"
        assert client.request(method, url, json=body).status_code == 401
        assert client.request(method, url, json=body, headers=owner).status_code == 401
        assert client.request(method, url, json=body, headers=other["headers"]).status_code == 404
        wrong = participant_auth("mmp_not-a-token")
        assert client.request(method, url, json=body, headers=wrong).status_code == 401


def test_new_link_replaces_the_old_one_and_says_nothing_about_strangers(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    me = make.participant(slug, email="me@example.org")
    renewed = client.post(
        f"/api/v1/events/{slug}/registrations/link", json={"email": "ME@example.org"}
    )
    stranger = client.post(
        f"/api/v1/events/{slug}/registrations/link", json={"email": "nobody@example.org"}
    )
    assert renewed.status_code == stranger.status_code == 202
    assert renewed.json() == stranger.json()
    assert client.get(f"/api/v1/events/{slug}/me", headers=me["headers"]).status_code == 401


def test_directory_lists_only_consenting_participants_with_filters(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner, focus_areas=["AI", "Quantum"])
    viewer = make.participant(slug, listed=False)

    def org(name: str, kind: str, country: str, sectors: list[str], areas: list[str]) -> dict:
        return {
            "name": name,
            "kind": kind,
            "country": country,
            "sectors": sectors,
            "focus_areas": areas,
            "description": f"{name} profile",
        }

    make.participant(
        slug, name="Ana", organisation=org("Qubit Lab", "research", "PT", ["ICT"], ["Quantum"])
    )
    make.participant(
        slug, name="Ben", organisation=org("AI Cluster", "cluster", "DE", ["ICT"], ["AI"])
    )
    make.participant(
        slug, name="Cleo", organisation=org("Wind Co", "company", "DK", ["Energy"], [])
    )
    make.participant(slug, name="Dan", listed=False)

    def names(**params: Any) -> list[str]:
        answer = client.get(
            f"/api/v1/events/{slug}/directory", params=params, headers=viewer["headers"]
        )
        assert answer.status_code == 200, answer.text
        return [item["name"] for item in answer.json()["items"]]

    assert names() == ["Ben", "Ana", "Cleo"]
    assert names(kind="cluster") == ["Ben"]
    assert names(country="pt") == ["Ana"]
    assert names(sector="ict") == ["Ben", "Ana"]
    assert names(focus_area="Quantum") == ["Ana"]
    assert names(q="wind profile") == ["Cleo"]
    page = client.get(
        f"/api/v1/events/{slug}/directory", params={"limit": 1, "offset": 1}, headers=owner
    ).json()
    assert page["total"] == 3
    assert [i["name"] for i in page["items"]] == ["Ana"]
    assert "email" not in page["items"][0]


def test_directory_is_closed_to_outsiders(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser())
    stranger = make.participant(make.open_event(other := make.organiser()))
    url = f"/api/v1/events/{slug}/directory"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=stranger["headers"]).status_code == 404
    assert client.get(url, headers=other).status_code == 404


def test_organisers_see_and_edit_every_participant(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    hidden = make.participant(slug, listed=False, name="Hidden Person")
    key = hidden["participant"]["key"]
    everyone = client.get(
        f"/api/v1/events/{slug}/participants", params={"q": "hidden"}, headers=owner
    )
    assert [p["key"] for p in everyone.json()["items"]] == [key]
    edited = client.patch(
        f"/api/v1/events/{slug}/participants/{key}",
        json={"max_meetings": 4, "host_location": "t2"},
        headers=owner,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["max_meetings"] == 4
    assert edited.json()["host_location"] == "t2"
    unknown = client.patch(
        f"/api/v1/events/{slug}/participants/{key}", json={"host_location": "t9"}, headers=owner
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.host_location"
    organisations = client.get(f"/api/v1/events/{slug}/organisations", headers=owner).json()
    assert organisations["total"] == 1
