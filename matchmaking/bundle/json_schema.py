"""JSON Schemas of the bundle and schedule formats, generated from the Pydantic models.

Copies are committed as docs/bundle-schema.json and docs/schedule-schema.json (written by
`matchmaking schema bundle|schedule`); a test keeps them current. The schemas describe the
shape of one document; rules that span the document (references, unique ids, overlapping
slots, `after` cycles) are checked by `parse_bundle` and described in bundle-format.md.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from matchmaking.bundle.schemas import Bundle, ScheduleDoc

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[BaseModel], schema_id: str, title: str, description: str) -> dict[str, Any]:
    body = model.model_json_schema(by_alias=True, mode="validation")
    header: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_id,
        "title": title,
        "description": description,
    }
    body.pop("title", None)
    return header | body


def bundle_json_schema() -> dict[str, Any]:
    return _schema(
        Bundle,
        "https://matchmaking.example.org/schemas/matchmaking-bundle-1.json",
        "matchmaking-bundle/1",
        "A whole matchmaking event: time grid, locations, participants and meeting wishes. "
        "Unknown fields are ignored.",
    )


def schedule_json_schema() -> dict[str, Any]:
    return _schema(
        ScheduleDoc,
        "https://matchmaking.example.org/schemas/matchmaking-schedule-1.json",
        "matchmaking-schedule/1",
        "The result of a solve: status, objective values and bounds, meetings, and every "
        "accepted wish that could not be scheduled with the reason.",
    )


def schema_text(schema: dict[str, Any]) -> str:
    """The text committed under docs/: stable, UTF-8, final newline."""
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
