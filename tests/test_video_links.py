"""Every online meeting that shares its room with others gets a link of its own (issue 12)."""

from __future__ import annotations

from matchmaking.delivery.agenda import video_link
from matchmaking.platform.models import Event, Location, LocationKind


def _room(url: str = "", capacity: int = 1, kind: LocationKind = LocationKind.online) -> Location:
    return Location(key="video", name="Video room", kind=kind, capacity=capacity, url=url)


EVENT = Event(slug="fair", name="Fair", timezone="UTC", video_base_url="https://v.example/base/")


def test_a_shared_video_room_gives_each_meeting_its_own_link() -> None:
    room = _room("https://meet.example.org/fair/", capacity=10)
    first, second = video_link(EVENT, room, "m-1"), video_link(EVENT, room, "m-2")
    assert first == "https://meet.example.org/fair/m-1"
    assert second == "https://meet.example.org/fair/m-2"
    assert video_link(EVENT, room, "m-1") == first  # the same meeting, the same link


def test_a_configured_pattern_places_the_meeting_uid() -> None:
    room = _room("https://meet.example.org/r/{meeting}?lobby=1", capacity=10)
    assert video_link(EVENT, room, "m-7") == "https://meet.example.org/r/m-7?lobby=1"


def test_a_room_for_one_meeting_keeps_its_own_link_and_others_use_the_event_base() -> None:
    assert video_link(EVENT, _room("https://meet.example.org/one"), "m-1") == (
        "https://meet.example.org/one"
    )
    assert video_link(EVENT, _room(capacity=40), "m-1") == "https://v.example/base/m-1"
    assert video_link(EVENT, _room(kind=LocationKind.table), "m-1") is None
