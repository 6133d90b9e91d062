"""Concurrent writes against a real server: nothing is lost, caps hold (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.api.conftest import Factory


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free local port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


def post_all(
    base_url: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> list[int]:
    """Send every request at once from its own thread and client; the status codes."""
    start = threading.Barrier(len(requests))

    def send(request: tuple[str, dict[str, Any], dict[str, str]]) -> int:
        path, body, headers = request
        with httpx.Client(base_url=base_url, timeout=60) as http:
            start.wait()
            return http.post(path, json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_concurrent_wishes_are_all_stored(server: str, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    people = [make.participant(slug) for _ in range(6)]
    requests = [
        (
            f"/api/v1/events/{slug}/me/wishes",
            {"to": other["participant"]["key"]},
            sender["headers"],
        )
        for sender in people
        for other in people
        if other is not sender
    ]
    codes = post_all(server, requests)
    assert Counter(codes) == {201: 30}
    stored = make.client.get(f"/api/v1/events/{slug}/wishes", params={"limit": 100}, headers=owner)
    assert stored.json()["total"] == 30


def test_request_cap_holds_under_concurrent_wishes(server: str, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner, max_requests_per_participant=3)
    sender = make.participant(slug)
    others = [make.participant(slug) for _ in range(10)]
    requests = [
        (f"/api/v1/events/{slug}/me/wishes", {"to": o["participant"]["key"]}, sender["headers"])
        for o in others
    ]
    codes = post_all(server, requests)
    assert Counter(codes) == {201: 3, 409: 7}
    stored = make.client.get(
        f"/api/v1/events/{slug}/wishes",
        params={"participant": sender["participant"]["key"]},
        headers=owner,
    )
    assert stored.json()["total"] == 3


def test_the_same_wish_sent_twice_at_once_is_stored_once(server: str, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    ana, ben = make.participant(slug), make.participant(slug)
    request = (
        f"/api/v1/events/{slug}/me/wishes",
        {"to": ben["participant"]["key"]},
        ana["headers"],
    )
    codes = post_all(server, [request] * 6)
    assert Counter(codes) == {201: 1, 409: 5}


def test_concurrent_registrations_share_one_new_organisation(server: str, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    requests = [
        (
            f"/api/v1/events/{slug}/registrations",
            {"name": f"P{i}", "email": f"p{i}@wind.example", "organisation": {"name": "Wind Co"}},
            {},
        )
        for i in range(8)
    ]
    assert Counter(post_all(server, requests)) == {201: 8}
    organisations = make.client.get(f"/api/v1/events/{slug}/organisations", headers=owner).json()
    assert organisations["total"] == 1
    participants = make.client.get(f"/api/v1/events/{slug}/participants", headers=owner).json()
    assert participants["total"] == 8
