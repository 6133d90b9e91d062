"""Whatever JSON arrives, reading it ends in a Bundle or a BundleError, never a crash."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle.validate import BundleError, parse_bundle

EXAMPLE = json.loads(Path(__file__).with_name("example-bundle.json").read_text("utf-8"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.sampled_from(["p1", "o1", "s1", "w1", "t1", "d1-am", "2024-09-10T09:00"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


PATHS = _paths(EXAMPLE)


def _fits(container: Any, key: Any) -> bool:
    if isinstance(container, list):
        return isinstance(key, int) and 0 <= key < len(container)
    return isinstance(container, dict) and isinstance(key, str)


def _put(document: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set `value` at `path` when the earlier damage left that path in place."""
    target = document
    for part in path[:-1]:
        if not _fits(target, part) or part not in (
            target if isinstance(target, dict) else range(len(target))
        ):
            return
        target = target[part]
    if _fits(target, path[-1]):
        target[path[-1]] = value


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=4))
def test_any_damaged_bundle_is_read_or_refused_with_problems(
    damage: list[tuple[tuple[Any, ...], Any]],
) -> None:
    document = copy.deepcopy(EXAMPLE)
    for path, value in damage:
        _put(document, path, value)
    try:
        parsed = parse_bundle(json.dumps(document))
    except BundleError as error:
        problems = error.problems
    else:
        assert isinstance(parsed, Bundle)
        return
    assert problems
    assert all(p.path.startswith("/") for p in problems)
    assert all(p.message for p in problems)
