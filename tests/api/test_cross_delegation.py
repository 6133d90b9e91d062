"""The rule cross_delegation_only when wishes are sent: a wish between two organisations of
the same delegation is refused (409, naming the rule); runs on both databases."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Factory


def _person(make: Factory, slug: str, name: str, delegation: str) -> dict[str, Any]:
    return make.participant(
        slug, organisation={"name": f"{name} Ltd", "kind": "company", "delegation": delegation}
    )


def test_same_delegation_wishes_are_refused_naming_the_rule(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    ann = _person(make, slug, "Ann", "EU")
    eve = _person(make, slug, "Eve", " eu ")
    bea = _person(make, slug, "Bea", "Canada")
    nobody = _person(make, slug, "Nia", "")
    wishes = f"/api/v1/events/{slug}/me/wishes"
    eve_key = eve["participant"]["key"]
    eve_org = eve["participant"]["organisation"]["key"]

    # Without the rule, the same delegation may meet.
    allowed = client.post(wishes, json={"to": eve_key}, headers=ann["headers"])
    assert allowed.status_code == 201, allowed.text
    ruled = client.put(
        f"/api/v1/events/{slug}/rules", json={"cross_delegation_only": True}, headers=owner
    )
    assert ruled.status_code == 200, ruled.text

    to_person = client.post(wishes, json={"to": ann["participant"]["key"]}, headers=eve["headers"])
    to_organisation = client.post(
        wishes,
        json={"to_organisation": eve_org},
        headers=_person(make, slug, "Uli", "EU")["headers"],
    )
    across = client.post(wishes, json={"to": eve_key}, headers=bea["headers"])
    without = client.post(wishes, json={"to": eve_key}, headers=nobody["headers"])
    from_without = client.post(
        wishes, json={"to": nobody["participant"]["key"]}, headers=bea["headers"]
    )

    assert to_person.status_code == 409, to_person.text
    problem = to_person.json()
    assert "cross_delegation_only" in problem["detail"]
    assert "Ann Ltd" in problem["detail"]
    assert problem["errors"][0]["field"] == "body.to"
    assert to_organisation.status_code == 409
    assert to_organisation.json()["errors"][0]["field"] == "body.to_organisation"
    assert (across.status_code, without.status_code, from_without.status_code) == (201, 201, 201)
