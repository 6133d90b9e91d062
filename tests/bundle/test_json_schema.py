"""The published JSON Schemas come from the models and accept what the formats allow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from matchmaking.bundle.json_schema import bundle_json_schema, schedule_json_schema, schema_text

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    ("name", "schema"),
    [("bundle-schema.json", bundle_json_schema), ("schedule-schema.json", schedule_json_schema)],
)
def test_committed_schema_is_current(name: str, schema: Any) -> None:
    committed = (DOCS / name).read_text(encoding="utf-8")
    assert committed == schema_text(schema()), (
        f"docs/{name} is stale: run `matchmaking schema {name.split('-')[0]} -o docs/{name}`"
    )


def test_bundle_schema_accepts_the_example_and_refuses_a_bad_priority(
    example: dict[str, Any],
) -> None:
    validator = jsonschema_rs.validator_for(bundle_json_schema())
    assert validator.is_valid(example)
    example["wishes"][0]["priority"] = 7
    assert not validator.is_valid(example)


def test_bundle_schema_refuses_a_slot_time_with_offset(example: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(bundle_json_schema())
    example["sessions"][0]["slots"][0]["start"] = "2024-09-10T09:00Z"
    assert not validator.is_valid(example)


def test_schedule_schema_accepts_the_format_document_example() -> None:
    schedule = json.loads(
        """{
        "format": "matchmaking-schedule/1", "event": "eu-canada-2024", "status": "optimal",
        "objective": {"required": 0, "scheduled": 412, "scheduled_weight": 1180,
                      "min_share": 0.75, "breaks": 37, "moved": 0},
        "bound": {"scheduled_weight": 1180, "breaks": 37},
        "solve_seconds": 12.4,
        "meetings": [{"wishes": ["w1"], "slot": "s1", "location": "t1",
                      "participants": ["p1", "p2"], "kind": "C2B"}],
        "unscheduled": [{"wish": "w9", "reason": "no_common_slot",
                         "detail": "p4 and p7 share no available slot"}]}"""
    )
    validator = jsonschema_rs.validator_for(schedule_json_schema())
    assert validator.is_valid(schedule)
    schedule["meetings"][0]["kind"] = "P2P"
    assert not validator.is_valid(schedule)
