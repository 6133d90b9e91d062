"""The brokers the worker tests need: Redis (and RabbitMQ for its own test).

As with PostgreSQL (tests/conftest.py): when a broker cannot be reached, its tests are skipped
on a developer machine and fail in CI (CI=true), so CI can never pass without running them.
"""

from __future__ import annotations

import os
from functools import cache

import pytest

from matchmaking.planning.celery_app import check_broker


@cache
def _unreachable(url: str) -> str | None:
    try:
        check_broker(url, timeout=3)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def require_broker(url: str) -> None:
    problem = _unreachable(url)
    if problem is None:
        return
    message = f"the broker at {url} is not reachable ({problem})"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message}; required in CI")
    pytest.skip(message)
