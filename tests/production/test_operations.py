"""Probes, request ids, structured logs and metrics, against the real app and databases."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from matchmaking.platform.models import Event, JobStatus, SolveJob
from matchmaking.platform.observability import configure_logging
from matchmaking.platform.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, upgrade_to_head
from tests.production.conftest import require_broker

REDIS_URL = "redis://127.0.0.1:6379/0"
#: Nothing listens on port 1: connections are refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
TOKENS_ROUTE = "/api/v1/organisers/me/tokens/{token_id}"


def _app(db_url: str, **overrides: Any) -> FastAPI:
    return create_app(Settings(database_url=db_url, environment="test", **overrides))


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    app = _app(db_url)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def test_liveness_answers_anonymously(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.redis
def test_ready_when_database_and_broker_answer(db_url: str) -> None:
    require_broker(REDIS_URL)
    app = _app(db_url, broker_url=REDIS_URL)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_ready_without_broker_says_solves_run_in_process(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"].startswith("not configured")


def test_not_ready_names_the_unreachable_broker(db_url: str) -> None:
    app = _app(db_url, broker_url=UNREACHABLE_REDIS)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable")
    assert body["detail"] == "Not ready: broker unreachable."


@pytest.mark.postgres
def test_not_ready_once_the_database_goes_away_while_liveness_holds(
    postgres_database_url: str,
) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mm_ready_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{postgres_database_url.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade_to_head(url)
        app = _app(url)
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            response = client.get("/readyz")
            assert client.get("/healthz").status_code == 200  # liveness does not depend on it
            scraped = client.get("/metrics")  # still scrapable, without the job counts
            assert scraped.status_code == 200
            assert "matchmaking_http_request_duration_seconds" in scraped.text
            assert "matchmaking_solve_jobs{" not in scraped.text
        app.state.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")
    assert response.json()["detail"] == "Not ready: database unreachable."


def test_every_response_has_a_request_id_and_a_callers_plain_id_is_kept(
    client: TestClient,
) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    assert generated != client.get("/healthz").headers["x-request-id"]

    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert kept.headers["x-request-id"] == "lb-7f3a.42"

    # An id that could forge log lines or headers is replaced, not echoed.
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" level=ERROR'})
    assert forged.headers["x-request-id"] != 'x" level=ERROR'
    assert len(forged.headers["x-request-id"]) == 32


def test_json_log_lines_carry_the_request_id_and_the_route_template(db_url: str) -> None:
    settings = Settings(database_url=db_url, environment="test", log_json=True)
    app = create_app(settings)
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    try:
        with TestClient(app) as client:
            response = client.delete("/api/v1/organisers/me/tokens/17")
    finally:
        configure_logging(Settings(environment="test"))
        app.state.engine.dispose()

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "matchmaking.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["route"] == TOKENS_ROUTE
    assert entry["path"] == "/api/v1/organisers/me/tokens/17"
    assert entry["status"] == response.status_code == 401
    assert entry["level"] == "INFO"
    assert entry["duration_ms"] >= 0


def _sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name{labels...}` in a Prometheus text exposition."""
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_show_latency_by_route_template_and_jobs_by_status(
    client: TestClient,
) -> None:
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as session:
        # Two events, each with a queued solve (one active solve per event), one finished.
        for statuses in ((JobStatus.queued, JobStatus.succeeded), (JobStatus.queued,)):
            event = Event(slug=f"metrics-{uuid.uuid4().hex[:6]}", name="Metrics", timezone="UTC")
            session.add(event)
            session.flush()
            for status in statuses:
                session.add(SolveJob(id=str(uuid.uuid4()), event_id=event.id, status=status))
        session.commit()

    before = _sample(
        client.get("/metrics").text,
        "matchmaking_http_request_duration_seconds_count",
        route=TOKENS_ROUTE,
        status="401",
    )
    for token_id in (1, 2, 3):
        assert client.delete(f"/api/v1/organisers/me/tokens/{token_id}").status_code == 401
    text = client.get("/metrics").text

    after = _sample(
        text, "matchmaking_http_request_duration_seconds_count", route=TOKENS_ROUTE, status="401"
    )
    assert after == (before or 0) + 3
    # Raw paths never become labels: one series per route template.
    assert "/api/v1/organisers/me/tokens/2" not in text
    assert _sample(text, "matchmaking_solve_jobs", status="queued") == 2
    assert _sample(text, "matchmaking_solve_jobs", status="succeeded") == 1
    assert _sample(text, "matchmaking_solve_jobs", status="running") == 0


def test_configure_logging_replaces_its_own_handler_instead_of_stacking() -> None:
    settings = Settings(environment="test")
    configure_logging(settings)
    configure_logging(settings)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_matchmaking", False)]
    assert len(ours) == 1
