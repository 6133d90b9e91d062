"""Liveness, readiness and metrics for load balancers, orchestrators and Prometheus.

All three are anonymous: probes cannot log in. `/metrics` tells how busy the service is but no
event's data; keep it on the internal network (see docs/deployment.md).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.problems import PROBLEM_MEDIA_TYPE
from matchmaking.planning.celery_app import broker_queue_length, check_broker
from matchmaking.platform.observability import SolveJobCollector, metrics_payload
from matchmaking.platform.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


class Liveness(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    #: Each dependency and how it answered: "ok", "not configured", or the error.
    checks: dict[str, str] = Field(examples=[{"database": "ok", "broker": "ok"}])


@router.get("/healthz", response_model=Liveness, summary="Liveness: the process answers")
def healthz() -> Liveness:
    """Answers 200 as long as the process serves requests; checks nothing else, so a
    database outage does not make an orchestrator restart every API process."""
    return Liveness(status="ok")


def _check_database(request: Request) -> str:
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return f"unreachable: {type(exc).__name__}"


def _check_broker(settings: Settings) -> str:
    if not settings.broker_url:
        return "not configured (solves run in-process)"
    try:
        check_broker(settings.broker_url)
        return "ok"
    except Exception as exc:
        log.warning("readiness: broker unreachable: %s", exc)
        return f"unreachable: {type(exc).__name__}"


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: the database and the broker are reachable",
    responses={
        503: {
            "description": "A dependency is unreachable; `checks` says which.",
            "content": {PROBLEM_MEDIA_TYPE: {"example": {"status": 503, "checks": {}}}},
        }
    },
)
def readyz(request: Request) -> Any:
    """200 when the database answers and (if one is configured) the broker too; 503
    otherwise, so a load balancer sends no traffic to a process that cannot serve it."""
    settings: Settings = request.app.state.settings
    checks = {"database": _check_database(request), "broker": _check_broker(settings)}
    if all(v == "ok" or v.startswith("not configured") for v in checks.values()):
        return Readiness(status="ready", checks=checks)
    failing = ", ".join(name for name, v in checks.items() if v.startswith("unreachable"))
    return JSONResponse(
        {
            "type": "/problems/not-ready",
            "title": "Service Unavailable",
            "status": 503,
            "detail": f"Not ready: {failing} unreachable.",
            "instance": request.url.path,
            "checks": checks,
        },
        status_code=503,
        media_type=PROBLEM_MEDIA_TYPE,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """Request latency by route, solves by status and duration, jobs by status (queue
    depth) and, with a Redis broker, the length of the solve queue."""
    settings: Settings = request.app.state.settings
    broker_url = settings.broker_url

    def queue_length() -> int | None:
        if not broker_url:
            return None
        try:
            return broker_queue_length(broker_url, settings.solve_queue)
        except Exception:
            return None  # the broker being down must not break the scrape

    collector = SolveJobCollector(request.app.state.sessionmaker, queue_length)
    body, content_type = metrics_payload(collector)
    return Response(body, media_type=content_type)
