"""Hand edits over HTTP (api/routers/hand_edits.py): each edit, refusals as RFC 9457 problems
in words with nothing stored, draft copies of a published version, a real re-solve around
pins, diffs that mark hand edits, and who may not edit."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Factory
from tests.api.solving import World, small_event, solve, solve_and_publish


def _state(client: TestClient, world: World, number: int) -> dict[str, Any]:
    response = client.get(world.url(f"/versions/{number}/hand-edits"), headers=world.owner)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _between(state: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    return next(m for m in state["meetings"] if set(m["participants"]) == {a, b})


def _slots(client: TestClient, world: World) -> list[dict[str, Any]]:
    response = client.get(world.url("/sessions/am/slots"), headers=world.owner)
    if response.status_code != 200:
        response = client.get(world.url("/slots"), headers=world.owner)
    body = response.json()
    return body["items"] if isinstance(body, dict) else body  # type: ignore[no-any-return]


def _free_place(
    client: TestClient, world: World, state: dict[str, Any], meeting: dict[str, Any]
) -> tuple[str, str]:
    """A slot where neither participant meets, and a table free then."""
    busy = {
        m["slot"]
        for m in state["meetings"]
        if m["uid"] != meeting["uid"] and set(m["participants"]) & set(meeting["participants"])
    }
    for slot in _slots(client, world):
        if slot["key"] in busy or slot["key"] == meeting["slot"]:
            continue
        taken = {m["location"] for m in state["meetings"] if m["slot"] == slot["key"]}
        free = sorted({"t1", "t2"} - taken)
        if free:
            return slot["key"], free[0]
    raise AssertionError("no free place")


def _hhmm(moment: str) -> str:
    return moment[11:16]


def test_move_refused_in_words_then_moved(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    solve(client, world)
    p0, p1, p2 = world.key(0), world.key(1), world.key(2)
    state = _state(client, world, 1)
    assert state["editable"] is True
    assert len(state["meetings"]) == 3
    first, other = _between(state, p0, p1), _between(state, p0, p2)

    refused = client.post(
        world.url(f"/versions/1/meetings/{first['uid']}/move"),
        json={"slot": other["slot"], "location": first["location"]},
        headers=world.owner,
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    sentence = (
        f"{world.people[0]['participant']['name']} already meets "
        f"{world.people[2]['participant']['name']} at {_hhmm(other['starts'])} at "
        f"{other['location_name']}."
    )
    assert sentence in problem["reasons"]
    assert sentence in problem["detail"]
    assert p0 not in problem["detail"]
    assert other["slot"] not in problem["detail"]
    assert _state(client, world, 1) == state  # nothing stored

    slot, location = _free_place(client, world, state, first)
    moved = client.post(
        world.url(f"/versions/1/meetings/{first['uid']}/move"),
        json={"slot": slot, "location": location},
        headers=world.owner,
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["edit"]["kind"] == "moved"
    assert body["meeting"]["placed_by_hand"] is True
    assert (body["meeting"]["slot"], body["meeting"]["location"]) == (slot, location)
    assert _state(client, world, 1)["edits"][0]["text"] == body["edit"]["text"]


def test_add_cancel_and_pin(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    solve(client, world)
    p1, p2, p3 = world.key(1), world.key(2), world.key(3)
    state = _state(client, world, 1)

    no_wish = client.post(
        world.url("/versions/1/meetings"),
        json={"participants": [p1, p3], "slot": state["meetings"][0]["slot"], "location": "t1"},
        headers=world.owner,
    )
    assert no_wish.status_code == 409
    assert no_wish.json()["reasons"][0].startswith(
        f"Neither {world.people[1]['participant']['name']} nor"
    )
    unknown = client.post(
        world.url("/versions/1/meetings"),
        json={"participants": [p1, "nobody"], "slot": "s1", "location": "t1"},
        headers=world.owner,
    )
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == ("body.participants")

    cancelled_uid = _between(state, p2, p3)["uid"]
    cancelled = client.delete(
        world.url(f"/versions/1/meetings/{cancelled_uid}"), headers=world.owner
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["meeting"] is None
    after = _state(client, world, 1)
    assert len(after["meetings"]) == 2

    # The wish is unmet again: the meeting can be added back by hand.
    slot, location = _free_place(client, world, after, _between(state, p2, p3))
    added = client.post(
        world.url("/versions/1/meetings"),
        json={"participants": [p3, p2], "slot": slot, "location": location},
        headers=world.owner,
    )
    assert added.status_code == 201, added.text
    assert added.json()["meeting"]["participants"] == [p2, p3]  # the wish's sender first

    uid = added.json()["meeting"]["uid"]
    pinned = client.put(
        world.url(f"/versions/1/meetings/{uid}/pin"), json={"pinned": True}, headers=world.owner
    )
    assert pinned.status_code == 200
    assert pinned.json()["meeting"]["pinned"] is True
    again = client.put(
        world.url(f"/versions/1/meetings/{uid}/pin"), json={"pinned": True}, headers=world.owner
    )
    assert again.status_code == 422
    kinds = [e["kind"] for e in _state(client, world, 1)["edits"]]
    assert kinds == ["cancelled", "added", "pinned"]


def test_a_published_version_is_edited_through_a_copy_and_the_diff_shows_it(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    number = solve_and_publish(client, world)
    state = _state(client, world, number)
    assert state["editable"] is False
    meeting = _between(state, world.key(0), world.key(1))
    slot, location = _free_place(client, world, state, meeting)

    refused = client.post(
        world.url(f"/versions/{number}/meetings/{meeting['uid']}/move"),
        json={"slot": slot, "location": location},
        headers=world.owner,
    )
    assert refused.status_code == 409
    assert "draft copy" in refused.json()["detail"]

    copy = client.post(world.url(f"/versions/{number}/copy"), headers=world.owner)
    assert copy.status_code == 201, copy.text
    draft = copy.json()["version"]
    assert (draft["number"], draft["based_on"], draft["published_at"]) == (2, number, None)
    moved = client.post(
        world.url(f"/versions/2/meetings/{meeting['uid']}/move"),
        json={"slot": slot, "location": location},
        headers=world.owner,
    )
    assert moved.status_code == 200, moved.text
    cancel_uid = _between(state, world.key(2), world.key(3))["uid"]
    client.delete(world.url(f"/versions/2/meetings/{cancel_uid}"), headers=world.owner)

    diff = client.get(world.url("/versions/2/diff"), headers=world.owner).json()
    assert [(c["uid"], c["by_hand"]) for c in diff["moved"]] == [(meeting["uid"], True)]
    assert [(c["uid"], c["by_hand"]) for c in diff["removed"]] == [(cancel_uid, True)]


def test_pins_survive_a_resolve_around_pins(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    solve(client, world)
    state = _state(client, world, 1)
    meeting = _between(state, world.key(0), world.key(1))
    slot, location = _free_place(client, world, state, meeting)
    uid = meeting["uid"]
    client.post(
        world.url(f"/versions/1/meetings/{uid}/move"),
        json={"slot": slot, "location": location},
        headers=world.owner,
    )
    client.put(
        world.url(f"/versions/1/meetings/{uid}/pin"), json={"pinned": True}, headers=world.owner
    )

    resolved = client.post(
        world.url("/versions/1/resolve-around-pins"),
        json={"time_limit_seconds": 5, "workers": 1, "deterministic": True},
        headers=world.owner,
    )
    assert resolved.status_code == 201, resolved.text
    number = resolved.json()["number"]
    new = _state(client, world, number)
    kept = next(m for m in new["meetings"] if m["uid"] == uid)
    assert (kept["slot"], kept["location"], kept["pinned"], kept["placed_by_hand"]) == (
        slot,
        location,
        True,
        True,
    )
    assert len(new["meetings"]) == 3
    detail = client.get(world.url(f"/versions/{number}"), headers=world.owner).json()
    assert detail["staleness"]["stale"] is False
    assert detail["based_on"] is None


def test_who_may_not_edit(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    solve(client, world)
    uid = _state(client, world, 1)["meetings"][0]["uid"]
    stranger = make.organiser()
    make.event(stranger)
    participant = world.people[0]["headers"]
    calls = [
        ("get", "/versions/1/hand-edits", None),
        ("post", "/versions/1/copy", None),
        (
            "post",
            "/versions/1/meetings",
            {"participants": ["a", "b"], "slot": "s", "location": "t"},
        ),
        ("post", f"/versions/1/meetings/{uid}/move", {"slot": "s", "location": "t"}),
        ("delete", f"/versions/1/meetings/{uid}", None),
        ("put", f"/versions/1/meetings/{uid}/pin", {"pinned": True}),
        ("post", "/versions/1/resolve-around-pins", {"time_limit_seconds": 1}),
    ]
    for method, path, body in calls:
        extra: dict[str, Any] = {"json": body} if body is not None else {}
        call = getattr(client, method) if method != "delete" else client.delete
        assert call(world.url(path), **extra).status_code == 401, path
        assert call(world.url(path), headers=participant, **extra).status_code == 401, path
        assert call(world.url(path), headers=stranger, **extra).status_code == 404, path
    state = _state(client, world, 1)
    assert state["edits"] == []
    assert len(state["meetings"]) == 3
    versions = client.get(world.url("/versions"), headers=world.owner).json()
    assert versions["total"] == 1


def test_the_endpoints_are_documented(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    base = "/api/v1/events/{slug}/versions/{number}"
    for path, method in [
        ("/hand-edits", "get"),
        ("/copy", "post"),
        ("/meetings", "post"),
        ("/meetings/{uid}/move", "post"),
        ("/meetings/{uid}", "delete"),
        ("/meetings/{uid}/pin", "put"),
        ("/resolve-around-pins", "post"),
    ]:
        operation = paths[base + path][method]
        ok = next(code for code in operation["responses"] if code.startswith("2"))
        assert "schema" in operation["responses"][ok]["content"]["application/json"], path
        assert "Who:" in operation["description"]
