"""The example bundle of docs/bundle-format.md (completed with the people its wishes name)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).with_name("example-bundle.json")


@pytest.fixture(scope="session")
def example_bytes() -> bytes:
    return EXAMPLE.read_bytes()


@pytest.fixture
def example(example_bytes: bytes) -> dict[str, Any]:
    """A fresh, editable copy of the example bundle document."""
    return copy.deepcopy(json.loads(example_bytes))
