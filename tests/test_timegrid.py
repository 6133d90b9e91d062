"""Slots of an event never overlap and never start or end at a time the zone skips."""

from __future__ import annotations

from datetime import datetime

import pytest

from matchmaking.organising.timegrid import SlotTimes, TimeGridError, check_slots, slot_problems


def _slot(key: str, start: str, end: str) -> SlotTimes:
    return SlotTimes(key, datetime.fromisoformat(start), datetime.fromisoformat(end))


def test_consecutive_slots_with_pauses_are_accepted() -> None:
    check_slots(
        "America/Toronto",
        [
            _slot("s1", "2024-09-10T09:00", "2024-09-10T09:20"),
            _slot("s2", "2024-09-10T09:20", "2024-09-10T09:40"),
            _slot("s3", "2024-09-10T14:00", "2024-09-10T14:20"),
        ],
    )


def test_overlapping_slots_are_refused_naming_both() -> None:
    problems = slot_problems(
        "Europe/Brussels",
        [
            _slot("s1", "2024-09-10T09:00", "2024-09-10T09:20"),
            _slot("s2", "2024-09-10T09:10", "2024-09-10T09:30"),
        ],
    )
    assert [(p.index, p.field) for p in problems] == [(1, "start")]
    assert 'slot "s2" overlaps slot "s1"' in problems[0].message


def test_overlap_is_found_even_when_slots_are_listed_out_of_order() -> None:
    with pytest.raises(TimeGridError, match='"s1" overlaps slot "s2"'):
        check_slots(
            "Europe/Brussels",
            [
                _slot("s2", "2024-09-10T09:00", "2024-09-10T10:00"),
                _slot("s1", "2024-09-10T09:30", "2024-09-10T09:50"),
            ],
        )


def test_a_local_time_in_the_spring_forward_gap_is_refused() -> None:
    problems = slot_problems(
        "America/Toronto", [_slot("s1", "2024-03-10T02:10", "2024-03-10T03:10")]
    )
    assert [(p.field, "does not exist in America/Toronto" in p.message) for p in problems] == [
        ("start", True)
    ]


def test_a_slot_in_the_repeated_fall_back_hour_is_accepted() -> None:
    check_slots("America/Toronto", [_slot("s1", "2024-11-03T01:10", "2024-11-03T01:30")])


def test_a_slot_ending_before_it_starts_is_refused() -> None:
    problems = slot_problems("UTC", [_slot("s1", "2024-09-10T09:20", "2024-09-10T09:20")])
    assert [(p.field, p.message) for p in problems] == [("end", "must be after the slot's start")]


def test_an_unknown_time_zone_is_refused() -> None:
    problems = slot_problems("America/Montreal-ish", [])
    assert [(p.index, p.field) for p in problems] == [(-1, "timezone")]
    assert "is not an IANA time zone name" in problems[0].message


def test_a_time_zone_name_too_long_for_a_file_name_is_refused() -> None:
    # The zone database is read from files: a long name made ZoneInfo raise OSError ("File
    # name too long"), which the bundle import answered with a 500 (probe of issue 11).
    problems = slot_problems("Europe/" + "x" * 300, [])
    assert [(p.index, p.field) for p in problems] == [(-1, "timezone")]
    assert "is not an IANA time zone name" in problems[0].message
