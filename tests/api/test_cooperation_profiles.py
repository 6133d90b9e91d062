"""Offers, seeks and delegation through the API, and the rule cross_delegation_only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Factory


def test_registration_and_own_profile_edit_offers_seeks_and_delegation(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(
        slug,
        organisation={
            "name": "Énergie Québec",
            "kind": "cluster",
            "offers": ["battery recycling services", "battery recycling services"],
            "seeks": ["partners for green hydrogen"],
            "delegation": "  Canada ",
        },
    )
    organisation = person["participant"]["organisation"]
    assert organisation["offers"] == ["battery recycling services"]
    assert organisation["seeks"] == ["partners for green hydrogen"]
    assert organisation["delegation"] == "Canada"

    changed = client.patch(
        f"/api/v1/events/{slug}/me",
        json={"organisation": {"seeks": ["investors"], "delegation": ""}},
        headers=person["headers"],
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["organisation"]["seeks"] == ["investors"]
    assert changed.json()["organisation"]["delegation"] == ""
    assert changed.json()["organisation"]["offers"] == ["battery recycling services"]
    # Organisers edit them too, and the directory shows them.
    key = person["participant"]["key"]
    edited = client.patch(
        f"/api/v1/events/{slug}/participants/{key}",
        json={"organisation": {"delegation": "EU"}},
        headers=owner,
    )
    assert edited.status_code == 200
    assert edited.json()["organisation"]["delegation"] == "EU"
    other = make.participant(slug)
    directory = client.get(f"/api/v1/events/{slug}/directory", headers=other["headers"])
    entry = next(e for e in directory.json()["items"] if e["key"] == key)
    assert entry["organisation"]["delegation"] == "EU"
    assert entry["organisation"]["seeks"] == ["investors"]


def test_the_directory_searches_offers_and_seeks_and_filters_by_delegation(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    recycler = make.participant(
        slug,
        organisation={
            "name": "Énergie Québec",
            "kind": "cluster",
            "offers": ["Battery recycling services"],
            "delegation": "Canada",
        },
    )
    seeker = make.participant(
        slug,
        organisation={
            "name": "Wind Park Aarhus",
            "kind": "company",
            "seeks": ["hydrogen électrolysers"],
            "delegation": "EU",
        },
    )
    viewer = make.participant(slug)
    directory = f"/api/v1/events/{slug}/directory"

    def keys(**params: str) -> list[str]:
        answer = client.get(directory, params=params, headers=viewer["headers"])
        assert answer.status_code == 200, answer.text
        return [e["key"] for e in answer.json()["items"]]

    recycler_key, seeker_key = recycler["participant"]["key"], seeker["participant"]["key"]
    assert keys(q="battery RECYCLING") == [recycler_key]
    assert keys(q="electrolysers") == [seeker_key]  # accents ignored
    assert keys(delegation="canada") == [recycler_key]
    assert keys(delegation="EU") == [seeker_key]
    assert keys(delegation="EU", q="battery") == []
    # Paging: each page holds the right people, and the total counts them all.
    everyone = client.get(directory, params={"limit": 2}, headers=viewer["headers"]).json()
    assert everyone["total"] == 3
    assert len(everyone["items"]) == 2
    rest = client.get(directory, params={"limit": 2, "offset": 2}, headers=viewer["headers"])
    assert len(rest.json()["items"]) == 1
    assert {e["key"] for e in everyone["items"] + rest.json()["items"]} == {
        recycler_key,
        seeker_key,
        viewer["participant"]["key"],
    }


def test_profile_limits_are_refused_naming_the_field(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(slug)
    cases = {
        "offers": ["x" * 201],
        "seeks": [f"s{i}" for i in range(31)],
        "delegation": "E" * 101,
    }
    for name, value in cases.items():
        answer = client.patch(
            f"/api/v1/events/{slug}/me",
            json={"organisation": {name: value}},
            headers=person["headers"],
        )
        assert answer.status_code == 422, (name, answer.text)
        fields = [e["field"] for e in answer.json()["errors"]]
        assert any(f.startswith(f"body.organisation.{name}") for f in fields), fields


def test_cross_delegation_only_is_a_rule_organisers_set_and_the_bundle_exports(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.event(owner)

    answer = client.put(
        f"/api/v1/events/{slug}/rules",
        json={"cross_delegation_only": True, "max_break_difference": 2},
        headers=owner,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["rules"]["cross_delegation_only"] is True
    bundle = client.get(f"/api/v1/events/{slug}/bundle", headers=owner).json()
    assert bundle["event"]["rules"] == {"max_break_difference": 2, "cross_delegation_only": True}
    wrong = client.put(
        f"/api/v1/events/{slug}/rules", json={"cross_delegation_only": "yes"}, headers=owner
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.cross_delegation_only"
