"""Canonical JSON: dump → parse → dump gives the same bytes."""

from __future__ import annotations

import json
from typing import Any

from matchmaking.bundle.dump import dump_bundle, dump_schedule
from matchmaking.bundle.validate import parse_bundle


def test_dump_parse_dump_is_byte_identical(example_bytes: bytes) -> None:
    first = dump_bundle(parse_bundle(example_bytes))
    assert dump_bundle(parse_bundle(first)) == first


def test_dump_writes_keys_in_the_order_of_the_format_document(example_bytes: bytes) -> None:
    document = json.loads(dump_bundle(parse_bundle(example_bytes)))
    assert list(document) == [
        "format",
        "event",
        "sessions",
        "locations",
        "organisations",
        "participants",
        "wishes",
    ]
    assert list(document["event"])[:6] == [
        "slug",
        "name",
        "timezone",
        "venue",
        "mode",
        "registration_closes",
    ]
    assert list(document["wishes"][1]) == [
        "id", "from", "to_organisation", "priority", "status", "required", "session",
        "fixed_slot", "after", "separate",
    ]  # fmt: skip


def test_dump_keeps_non_ascii_text_and_local_times(example_bytes: bytes) -> None:
    text = dump_bundle(parse_bundle(example_bytes)).decode("utf-8")
    assert '"name": "Kristina Šermukšnytė-Alešiūnienė"' in text
    assert '"start": "2024-09-10T09:00"' in text
    assert '"registration_closes": "2024-05-28T23:59:00-04:00"' in text
    assert text.endswith("}\n")


def test_defaults_are_written_out_and_absent_values_left_out(example: dict[str, Any]) -> None:
    example["wishes"] = [{"id": "w1", "from": "p1", "to": "p2"}]
    example["participants"][2]["email"] = ""
    document = json.loads(dump_bundle(parse_bundle(example)))
    assert document["wishes"][0] == {
        "id": "w1", "from": "p1", "to": "p2", "priority": 2, "status": "accepted",
        "required": False, "after": [], "separate": False,
    }  # fmt: skip
    assert "email" not in document["participants"][2]
    assert document["participants"][2]["attendance"] == "onsite"


def test_schedule_dump_leaves_out_empty_conflicts() -> None:
    schedule = {
        "format": "matchmaking-schedule/1", "event": "demo", "status": "optimal",
        "objective": {"breaks": 0}, "bound": {"breaks": 0}, "solve_seconds": 0.5,
        "meetings": [], "unscheduled": [], "conflicts": [],
    }  # fmt: skip
    assert "conflicts" not in json.loads(dump_schedule(schedule))
