"""Confirmed actions are never lost when two people act on the same thing at once.

Each test runs many rounds of the same race against a real server (uvicorn, real threads) on
SQLite and on PostgreSQL, and checks every round: the answers name one order of the actions,
and what is stored afterwards is what that order gives. A race an implementation loses shows
up in a few rounds out of many, so a round that goes wrong is counted and all of them are
reported together."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI

from api.routers.jobs import stop_job_runner
from matchmaking.platform.models import JobStatus
from tests.concurrency.conftest import Browser, Factory, api, at_once

pytestmark = pytest.mark.slow

WISH_ROUNDS = 30
SOLVE_ROUNDS = 20


def _wishes(slug: str) -> str:
    return f"/api/v1/events/{slug}/me/wishes"


def _send(make: Factory, slug: str, sender: dict[str, Any], to: dict[str, Any]) -> str:
    answer = make.client.post(
        _wishes(slug), json={"to": to["participant"]["key"]}, headers=sender["headers"]
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


def _status(make: Factory, slug: str, person: dict[str, Any], key: str) -> str:
    answer = make.client.get(f"{_wishes(slug)}/{key}", headers=person["headers"])
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def _clean_up(make: Factory, slug: str, sender: dict[str, Any], key: str) -> None:
    """Withdraw a wish a lost race left open, so the next round can send it again."""
    if _status(make, slug, sender, key) != "cancelled":
        make.client.post(f"{_wishes(slug)}/{key}/withdraw", headers=sender["headers"])


def _open_sent(make: Factory, slug: str, sender: dict[str, Any]) -> list[str]:
    answer = make.client.get(
        _wishes(slug), params={"direction": "sent", "limit": 200}, headers=sender["headers"]
    )
    return [w["key"] for w in answer.json()["items"] if w["status"] in ("requested", "accepted")]


def test_withdraw_and_accept_at_once_never_lose_the_withdraw(server: str, make: Factory) -> None:
    """Either order is fine, but only as a whole: the withdraw first (the accept is refused,
    409, naming the wish as withdrawn) or the accept first (then the withdraw applies to the
    accepted wish). A confirmed withdraw always leaves the wish withdrawn."""
    owner = make.organiser()
    slug = make.open_event(owner)
    sender, recipient = make.participant(slug), make.participant(slug)
    wrong: list[str] = []
    orders: Counter[str] = Counter()
    with api(server) as http:
        for round_ in range(WISH_ROUNDS):
            key = _send(make, slug, sender, recipient)
            withdraw, accept = at_once(
                [
                    partial(
                        http.post, f"{_wishes(slug)}/{key}/withdraw", headers=sender["headers"]
                    ),
                    partial(
                        http.post, f"{_wishes(slug)}/{key}/accept", headers=recipient["headers"]
                    ),
                ]
            )
            final = _status(make, slug, sender, key)
            codes = (withdraw.status_code, accept.status_code)
            if codes == (200, 409):
                orders["withdraw first"] += 1
                problem = accept.json()
                ok = final == "cancelled" and "withdrawn" in problem["detail"]
                ok = ok and problem["type"].endswith("conflict")
            elif codes == (200, 200):
                orders["accept first"] += 1
                ok = final == "cancelled" and withdraw.json()["status"] == "cancelled"
            else:
                ok = False
            if not ok:
                wrong.append(f"round {round_}: withdraw, accept {codes}, ends {final}")
                _clean_up(make, slug, sender, key)
    assert not wrong, f"{len(wrong)} of {WISH_ROUNDS} rounds lost an action: {wrong}"
    assert sum(orders.values()) == WISH_ROUNDS


def test_a_wish_withdrawn_twice_at_once_is_withdrawn_once(server: str, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    sender, recipient = make.participant(slug), make.participant(slug)
    wrong: list[str] = []
    with api(server) as http:
        for round_ in range(WISH_ROUNDS):
            key = _send(make, slug, sender, recipient)
            answers = at_once(
                [partial(http.post, f"{_wishes(slug)}/{key}/withdraw", headers=sender["headers"])]
                * 3
            )
            codes = Counter(a.status_code for a in answers)
            refused = [a.json()["detail"] for a in answers if a.status_code == 409]
            if codes != {200: 1, 409: 2} or not all("withdrawn" in d for d in refused):
                wrong.append(f"round {round_}: {dict(codes)}")
                _clean_up(make, slug, sender, key)
    assert not wrong, f"{len(wrong)} of {WISH_ROUNDS} rounds had no single winner: {wrong}"


def test_decline_and_withdraw_at_once_never_lose_the_withdraw(server: str, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    sender, recipient = make.participant(slug), make.participant(slug)
    wrong: list[str] = []
    with api(server) as http:
        for round_ in range(WISH_ROUNDS):
            key = _send(make, slug, sender, recipient)
            withdraw, decline = at_once(
                [
                    partial(
                        http.post, f"{_wishes(slug)}/{key}/withdraw", headers=sender["headers"]
                    ),
                    partial(
                        http.post, f"{_wishes(slug)}/{key}/decline", headers=recipient["headers"]
                    ),
                ]
            )
            final = _status(make, slug, sender, key)
            codes = (withdraw.status_code, decline.status_code)
            if codes not in ((200, 409), (200, 200)) or final != "cancelled":
                wrong.append(f"round {round_}: withdraw, decline {codes}, ends {final}")
                _clean_up(make, slug, sender, key)
    assert not wrong, f"{len(wrong)} of {WISH_ROUNDS} rounds lost an action: {wrong}"


def test_request_cap_holds_while_a_withdrawn_wish_is_accepted(server: str, make: Factory) -> None:
    """The sender is at its cap of 2, withdraws one wish and sends a new one while the
    recipient of the withdrawn wish accepts it: never more than 2 open wishes."""
    owner = make.organiser()
    slug = make.open_event(owner, max_requests_per_participant=2)
    sender = make.participant(slug)
    first, second = make.participant(slug), make.participant(slug)
    others = [make.participant(slug) for _ in range(WISH_ROUNDS)]
    wrong: list[str] = []
    with api(server) as http:
        kept = _send(make, slug, sender, second)
        for round_, other in enumerate(others):
            key = _send(make, slug, sender, first)
            withdraw, accept, send = at_once(
                [
                    partial(
                        http.post, f"{_wishes(slug)}/{key}/withdraw", headers=sender["headers"]
                    ),
                    partial(http.post, f"{_wishes(slug)}/{key}/accept", headers=first["headers"]),
                    partial(
                        http.post,
                        _wishes(slug),
                        json={"to": other["participant"]["key"]},
                        headers=sender["headers"],
                    ),
                ]
            )
            open_now = _open_sent(make, slug, sender)
            final = _status(make, slug, sender, key)
            if len(open_now) > 2 or (withdraw.status_code == 200 and final != "cancelled"):
                wrong.append(
                    f"round {round_}: withdraw {withdraw.status_code}, accept "
                    f"{accept.status_code}, send {send.status_code}; {len(open_now)} open, "
                    f"withdrawn wish {final}"
                )
            # Back to the cap with only `kept` and a fresh wish to `first` next round.
            for extra in open_now:
                if extra != kept:
                    make.client.post(f"{_wishes(slug)}/{extra}/withdraw", headers=sender["headers"])
    assert not wrong, f"{len(wrong)} of {WISH_ROUNDS} rounds broke the cap: {wrong}"


def test_one_solve_starts_when_five_start_over_the_api_at_once(
    app: FastAPI, server: str, make: Factory
) -> None:
    queue_only(app)
    owner = make.organiser()
    slug = make.open_event(owner)
    solves = f"/api/v1/events/{slug}/solves"
    wrong: list[str] = []
    with api(server) as http:
        for round_ in range(SOLVE_ROUNDS):
            answers = at_once(
                [lambda: http.post(solves, json={"time_limit_seconds": 5}, headers=owner)] * 5
            )
            codes = Counter(a.status_code for a in answers)
            refused = [a.json()["detail"] for a in answers if a.status_code == 409]
            jobs = http.get(solves, params={"limit": 200}, headers=owner).json()["items"]
            active = [j for j in jobs if j["status"] in (JobStatus.queued, JobStatus.running)]
            if codes != {202: 1, 409: 4} or len(active) != 1:
                wrong.append(f"round {round_}: {dict(codes)}, {len(active)} active")
            elif not all("already under way" in detail for detail in refused):
                wrong.append(f"round {round_}: refused without naming the solve: {refused}")
            for job in active:
                cancelled = http.post(f"{solves}/{job['id']}/cancel", headers=owner)
                assert cancelled.status_code == 202, cancelled.text
    assert not wrong, f"{len(wrong)} of {SOLVE_ROUNDS} rounds started more than one: {wrong}"


def queue_only(app: FastAPI) -> None:
    """Put a `QueueOnly` runner in place of the one the app started (stopped first, so its
    solve threads and mail deliverer do not outlive the test)."""
    stop_job_runner(app)
    app.state.job_runner = QueueOnly()


class QueueOnly:
    """A job runner that keeps what it is given queued: the race is about starting solves,
    and a solve finishing between two starts would make a second start legitimate."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def start(self) -> None:
        pass

    def submit(self, job_id: str, *, time_limit_seconds: float = 0) -> None:
        self.submitted.append(job_id)

    def cancel(self, job_id: str) -> None:
        pass

    def shutdown(self, *, wait: bool = True) -> None:
        pass


def test_one_solve_starts_when_five_start_at_once(app: FastAPI, server: str, make: Factory) -> None:
    """Three starts over the API and two from the dashboard's button, all at once: exactly
    one is queued, the others are refused with 409 naming the solve under way."""
    queue_only(app)
    owner = make.organiser()
    slug = make.open_event(owner)
    solves = f"/api/v1/events/{slug}/solves"
    browsers = [Browser(server, owner) for _ in range(2)]
    wrong: list[str] = []
    try:
        with api(server) as http:
            for round_ in range(SOLVE_ROUNDS):
                forms = [b.csrf(f"/organiser/e/{slug}") for b in browsers]
                answers = at_once(
                    [
                        lambda: http.post(solves, json={"time_limit_seconds": 5}, headers=owner)
                        for _ in range(3)
                    ]
                    + [
                        lambda b=b, csrf=csrf: b.post(
                            f"/organiser/e/{slug}/solve",
                            {"csrf_token": csrf, "time_limit": "5"},
                        )
                        for b, csrf in zip(browsers, forms, strict=True)
                    ]
                )
                started = [a for a in answers if a.status_code in (202, 303)]
                refused = [a for a in answers if a.status_code == 409]
                jobs = http.get(solves, params={"limit": 200}, headers=owner).json()["items"]
                active = [j for j in jobs if j["status"] in (JobStatus.queued, JobStatus.running)]
                if len(started) != 1 or len(refused) != 4 or len(active) != 1:
                    wrong.append(
                        f"round {round_}: {sorted(a.status_code for a in answers)}, "
                        f"{len(active)} active"
                    )
                for job in active:
                    cancelled = http.post(f"{solves}/{job['id']}/cancel", headers=owner)
                    assert cancelled.status_code == 202, cancelled.text
    finally:
        for browser in browsers:
            browser.close()
    assert not wrong, f"{len(wrong)} of {SOLVE_ROUNDS} rounds started more than one: {wrong}"
