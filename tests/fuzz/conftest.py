"""Counts the cases the fuzz tests generate and reports them at the end of the run."""

from __future__ import annotations

from collections import Counter
from typing import Any

#: Cases sent per (backend, role); filled by the fuzz tests.
CASES: Counter[str] = Counter()
OPERATIONS: set[str] = set()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CASES:
        return
    total = sum(CASES.values())
    terminalreporter.section("schema-driven fuzzing")
    terminalreporter.write_line(
        f"{total} generated requests over {len(OPERATIONS)} operations; by backend and role:"
    )
    for key, count in sorted(CASES.items()):
        terminalreporter.write_line(f"  {key}: {count}")
