"""Recommendations through the API: a participant's own, and any participant's for organisers;
who may not ask; exclusions as in docs/profiles-and-sheets.md. Runs on both databases."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Factory


def _person(make: Factory, slug: str, name: str, **organisation: Any) -> dict[str, Any]:
    return make.participant(
        slug,
        name=name,
        organisation={"name": f"{name} Ltd", "kind": "company", "country": "DE", **organisation},
    )


def _event(client: TestClient, make: Factory) -> tuple[dict[str, str], str, dict[str, Any]]:
    owner = make.organiser()
    slug = make.open_event(owner)
    people = {
        "ann": _person(
            make,
            slug,
            "Ann",
            delegation="EU",
            seeks=["partners for battery recycling"],
            offers=["smart grid software"],
        ),
        "bea": _person(
            make, slug, "Bea", delegation="Canada", offers=["battery recycling services"]
        ),
        "cid": _person(make, slug, "Cid", delegation="EU", offers=["recycling of used batteries"]),
        "dan": _person(make, slug, "Dan", delegation="Canada", seeks=["smart grids"]),
    }
    return owner, slug, people


def _keys(answer: Any) -> list[str]:
    return [s["participant"] for s in answer.json()["suggestions"]]


def test_a_participant_sees_its_suggestions_best_first_with_reasons(
    client: TestClient, make: Factory
) -> None:
    owner, slug, people = _event(client, make)
    ann = people["ann"]

    answer = client.get(f"/api/v1/events/{slug}/me/suggestions", headers=ann["headers"])

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["participant"] == ann["participant"]["key"]
    bea, cid, dan = (people[n]["participant"]["key"] for n in ("bea", "cid", "dan"))
    assert set(_keys(answer)) == {bea, cid, dan}
    first = body["suggestions"][0]
    assert first["participant"] == bea
    assert first["name"] == "Bea"
    assert first["organisation"] == "Bea Ltd"
    assert first["reasons"][0] == (
        "offers battery recycling services, which you seek (partners for battery recycling)"
    )
    assert all(s["reasons"] for s in body["suggestions"])
    # Organisers see the same, for any participant.
    staff_view = client.get(
        f"/api/v1/events/{slug}/participants/{ann['participant']['key']}/suggestions",
        params={"top": 2},
        headers=owner,
    )
    assert staff_view.status_code == 200, staff_view.text
    assert staff_view.json()["suggestions"] == body["suggestions"][:2]


def test_wishes_the_rule_and_unlisted_people_exclude_suggestions(
    client: TestClient, make: Factory
) -> None:
    owner, slug, people = _event(client, make)
    ann, bea, cid = people["ann"], people["bea"], people["cid"]
    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": ann["participant"]["key"]},
        headers=bea["headers"],
    )
    assert sent.status_code == 201, sent.text
    hidden = client.patch(
        f"/api/v1/events/{slug}/me", json={"listed": False}, headers=people["dan"]["headers"]
    )
    assert hidden.status_code == 200, hidden.text

    before = client.get(f"/api/v1/events/{slug}/me/suggestions", headers=ann["headers"])
    ruled = client.put(
        f"/api/v1/events/{slug}/rules", json={"cross_delegation_only": True}, headers=owner
    )
    assert ruled.status_code == 200, ruled.text
    after = client.get(f"/api/v1/events/{slug}/me/suggestions", headers=ann["headers"])

    # Bea wished Ann (so neither is suggested to the other); Dan is not listed.
    assert _keys(before) == [cid["participant"]["key"]]
    # Cid is of Ann's delegation.
    assert _keys(after) == []
    back = client.get(f"/api/v1/events/{slug}/me/suggestions", headers=bea["headers"])
    assert ann["participant"]["key"] not in _keys(back)


def test_who_may_not_ask_for_suggestions(client: TestClient, make: Factory) -> None:
    owner, slug, people = _event(client, make)
    ann_key = people["ann"]["participant"]["key"]
    stranger = make.organiser()
    other_slug = make.open_event(stranger)
    outsider = make.participant(other_slug)
    mine = f"/api/v1/events/{slug}/me/suggestions"
    theirs = f"/api/v1/events/{slug}/participants/{ann_key}/suggestions"

    assert client.get(mine).status_code == 401
    assert client.get(mine, headers=owner).status_code == 401
    assert client.get(mine, headers=outsider["headers"]).status_code == 404
    assert client.get(theirs).status_code == 401
    assert client.get(theirs, headers=people["bea"]["headers"]).status_code == 401
    assert client.get(theirs, headers=stranger).status_code == 404
    unknown = client.get(f"/api/v1/events/{slug}/participants/nobody/suggestions", headers=owner)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    too_many = client.get(mine, params={"top": 101}, headers=people["ann"]["headers"])
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "query.top"


def test_suggestions_follow_every_change_of_profiles_people_and_wishes(
    client: TestClient, make: Factory
) -> None:
    _owner, slug, people = _event(client, make)
    ann, bea = people["ann"], people["bea"]
    mine = f"/api/v1/events/{slug}/me/suggestions"
    bea_key = bea["participant"]["key"]
    assert _keys(client.get(mine, headers=ann["headers"]))[0] == bea_key

    edited = client.patch(
        f"/api/v1/events/{slug}/me", json={"organisation": {"offers": ["cheese"]}},
        headers=bea["headers"],
    )  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert bea_key not in _keys(client.get(mine, headers=ann["headers"]))
    newcomer = _person(make, slug, "Gus", offers=["battery recycling services"])
    assert _keys(client.get(mine, headers=ann["headers"]))[0] == newcomer["participant"]["key"]
    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": newcomer["participant"]["key"]},
        headers=ann["headers"],
    )
    assert sent.status_code == 201, sent.text
    assert newcomer["participant"]["key"] not in _keys(client.get(mine, headers=ann["headers"]))


def test_a_wish_to_an_organisation_excludes_its_members_at_once(
    client: TestClient, make: Factory
) -> None:
    _, slug, people = _event(client, make)
    ann, dan = people["ann"], people["dan"]
    mine = f"/api/v1/events/{slug}/me/suggestions"
    ann_key, dan_key = ann["participant"]["key"], dan["participant"]["key"]
    assert dan_key in _keys(client.get(mine, headers=ann["headers"]))
    assert ann_key in _keys(client.get(mine, headers=dan["headers"]))

    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to_organisation": ann["participant"]["organisation"]["key"]},
        headers=dan["headers"],
    )

    assert sent.status_code == 201, sent.text
    assert dan_key not in _keys(client.get(mine, headers=ann["headers"]))
    assert ann_key not in _keys(client.get(mine, headers=dan["headers"]))
