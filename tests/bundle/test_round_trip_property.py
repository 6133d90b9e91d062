"""Property: any valid bundle dumps to bytes that parse back and dump identically."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchmaking.bundle.dump import dump_bundle
from matchmaking.bundle.validate import parse_bundle
from matchmaking.platform.text import has_visible_character

# A name holds a visible character (the format refuses names of spaces or invisible ones).
names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x85"),
    min_size=1,
    max_size=40,
).filter(has_visible_character)
optional_text = st.none() | st.just("") | names


@st.composite
def bundles(draw: st.DrawFn) -> dict[str, Any]:
    start = datetime(2025, 10, 7, 8, 0) + timedelta(minutes=draw(st.integers(0, 600)))
    slots = []
    for i in range(draw(st.integers(1, 6))):
        length = draw(st.integers(5, 45))
        seconds = draw(st.sampled_from([0, 0, 30]))
        end = start + timedelta(minutes=length, seconds=seconds)
        slots.append({"id": f"s{i}", "start": start.isoformat(), "end": end.isoformat()})
        start = end + timedelta(minutes=draw(st.integers(0, 90)))
    people = draw(st.integers(2, 5))
    participants = [
        {"id": f"p{i}", "name": draw(names), "organisation": f"o{i}",
         "email": draw(st.none() | st.just(f"p{i}@example.org")),
         "attendance": draw(st.none() | st.sampled_from(["onsite", "online"])),
         "unavailable": draw(st.lists(st.sampled_from([s["id"] for s in slots]), max_size=2)),
         "max_meetings": draw(st.none() | st.integers(0, 9)), "job_title": draw(optional_text)}
        for i in range(people)
    ]  # fmt: skip
    wishes = []
    for k in range(draw(st.integers(0, 6))):
        a, b = draw(st.lists(st.integers(0, people - 1), min_size=2, max_size=2, unique=True))
        wish = {"id": f"w{k}", "from": f"p{a}", "priority": draw(st.sampled_from([1, 2, 3])),
                "status": draw(st.sampled_from(["accepted", "requested", "declined"])),
                "required": draw(st.booleans()), "separate": draw(st.booleans()),
                "after": [f"w{j}" for j in range(k) if draw(st.booleans())]}  # fmt: skip
        wish.update({"to": f"p{b}"} if draw(st.booleans()) else {"to_organisation": f"o{b}"})
        wishes.append(wish)
    return {
        "format": "matchmaking-bundle/1",
        "event": {"slug": "round-trip", "name": draw(names), "timezone": "Europe/Brussels",
                  "venue": draw(optional_text),
                  "mode": draw(st.sampled_from(["onsite", "online", "hybrid"])),
                  "registration_closes": draw(st.none() | st.just("2025-10-01T12:00:00.5Z")),
                  "focus_areas": draw(st.lists(names, max_size=3)),
                  "rules": {"max_break_difference": draw(st.none() | st.integers(0, 3))}},
        "sessions": [{"id": "day", "name": draw(names), "slots": slots}],
        "locations": [{"id": "t1", "name": "Table 1", "kind": "table"}],
        "organisations": [
            {"id": f"o{i}", "name": draw(names),
             "kind": draw(st.sampled_from(["cluster", "company", "research", "public", "other"])),
             "country": draw(st.none() | st.sampled_from(["DK", "CA", "DE"]))}
            for i in range(people)
        ],
        "participants": participants,
        "wishes": wishes,
    }  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bundles())
def test_any_valid_bundle_round_trips_byte_identically(document: dict[str, Any]) -> None:
    first = dump_bundle(parse_bundle(document))
    again = dump_bundle(parse_bundle(first))
    assert again == first
