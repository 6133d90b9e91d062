"""Canonical JSON of bundles and schedule documents.

One spelling for each document, so that export → import → export gives the same bytes:
UTF-8 without escaping non-ASCII, two-space indent, keys in the order the format document
shows them (the models' field order), lists in the order given, a final newline. Absent
optional values (`null`) are left out; every other value, defaults included, is written, so a
reader never has to know the defaults.
"""

from __future__ import annotations

import json
from typing import Any

from matchmaking.bundle.schemas import Bundle, ScheduleDoc


def _dumps(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def bundle_document(bundle: Bundle) -> dict[str, Any]:
    """The bundle as the JSON object the format describes."""
    return bundle.model_dump(mode="json", by_alias=True, exclude_none=True)


def dump_bundle(bundle: Bundle) -> bytes:
    """The canonical JSON bytes of a bundle."""
    return _dumps(bundle_document(bundle))


def dump_schedule(schedule: ScheduleDoc | dict[str, Any]) -> bytes:
    """The canonical JSON bytes of a schedule document (checked against the model)."""
    if isinstance(schedule, dict):
        schedule = ScheduleDoc.model_validate(schedule, strict=True)
    document = schedule.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not document.get("conflicts"):
        # Optional beyond the v1 document: written only when there is something to say.
        document.pop("conflicts", None)
    return _dumps(document)
