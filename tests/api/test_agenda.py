"""Agendas over HTTP: the participant's own, and the organisers' view of anyone's."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from tests.api.conftest import Factory
from tests.api.solving import small_event, solve, solve_and_publish


def test_the_agenda_is_empty_until_a_schedule_is_published(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    solve(client, world)

    agenda = client.get(world.url("/me/agenda"), headers=world.people[0]["headers"]).json()

    assert agenda["version"] is None
    assert agenda["meetings"] == []
    assert agenda["participant"] == world.key(0)


def test_a_participant_sees_their_meetings_with_counterparts_times_and_tables(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    number = solve_and_publish(client, world)

    agenda = client.get(world.url("/me/agenda"), headers=world.people[0]["headers"]).json()

    assert agenda["version"] == number
    assert agenda["timezone"] == "Europe/Berlin"
    meetings = agenda["meetings"]
    assert sorted(m["counterpart"]["key"] for m in meetings) == sorted([world.key(1), world.key(2)])
    starts = [datetime.fromisoformat(m["start"]) for m in meetings]
    assert starts == sorted(starts)
    first = meetings[0]
    assert first["start"].endswith("+02:00"), "local time in the event's zone, with its offset"
    assert first["location"] in {"t1", "t2"}
    assert first["location_kind"] == "table"
    assert first["video_url"] is None
    counterpart = first["counterpart"]
    assert counterpart["country"] == "FR"
    assert counterpart["sectors"] == ["AI"]
    assert counterpart["organisation"].startswith("Org ")
    assert {m["kind"] for m in meetings} == {"C2B"}  # participant 0 is of a cluster


def test_organisers_see_any_participants_agenda_and_can_preview_a_version(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    solve(client, world)
    path = world.url(f"/participants/{world.key(3)}/agenda")

    published = client.get(path, headers=world.owner).json()
    preview = client.get(f"{path}?version=1", headers=world.owner).json()

    assert published["version"] is None
    assert published["meetings"] == []
    assert preview["version"] == 1
    assert [m["counterpart"]["key"] for m in preview["meetings"]] == [world.key(2)]
    missing = client.get(world.url("/participants/nobody/agenda"), headers=world.owner)
    assert missing.status_code == 404
    assert client.get(f"{path}?version=0", headers=world.owner).status_code == 422


def test_who_may_not_see_an_agenda(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    stranger = make.organiser()
    make.event(stranger)
    other_event = make.open_event(make.organiser())
    outsider = make.participant(other_event)["headers"]
    own = world.url("/me/agenda")
    anyones = world.url(f"/participants/{world.key(0)}/agenda")

    assert client.get(own).status_code == 401
    assert client.get(own, headers=outsider).status_code == 404
    assert client.get(own, headers=world.owner).status_code == 401
    assert client.get(anyones).status_code == 401
    assert client.get(anyones, headers=world.people[1]["headers"]).status_code == 401
    assert client.get(anyones, headers=stranger).status_code == 404
