"""Races against a real server: uvicorn on a free port, requests from real threads, the app on
SQLite and on PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.api.conftest import Factory, app, client, make  # noqa: F401  (fixtures)
from tests.api.test_concurrency import server  # noqa: F401  (the fixture: uvicorn on a free port)


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call in its own thread, all released by one barrier; their answers."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


class Browser:
    """An organiser signed in on the pages with its own cookies (one httpx client)."""

    CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

    def __init__(self, base_url: str, organiser: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
        token = organiser["Authorization"].removeprefix("Bearer ")
        answer = self.http.post(
            "/organiser/login", data={"csrf_token": self.csrf("/organiser/login"), "token": token}
        )
        assert answer.status_code == 303, answer.text

    def csrf(self, path: str) -> str:
        page = self.http.get(path)
        assert page.status_code == 200, page.text
        found = self.CSRF.search(page.text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, data=data)

    def close(self) -> None:
        self.http.close()


def api(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=60)


__all__ = ["Browser", "Factory", "api", "at_once"]
