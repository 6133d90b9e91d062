"""The FastAPI application: `create_app()` (a uvicorn factory: `api.app:create_app`)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from api.origin import CrossSiteRefusal
from api.pages.common import NoStoreByDefault, SecurityHeaders, status_page
from api.problems import BodySizeLimit, RefuseNul, document_problems, install_problem_handlers
from api.ratelimit import GuessLimiter, parse_networks
from api.routers.jobs import start_job_runner, stop_job_runner
from matchmaking.delivery.serving import ServingCache
from matchmaking.platform.db import make_engine, make_lean_engine, read_only_sessionmaker
from matchmaking.platform.observability import RequestContextMiddleware, configure_logging
from matchmaking.platform.settings import Settings, get_settings

#: Modules whose `router` is included, in this order. Add yours with a one-line edit.
ROUTER_MODULES: list[str] = [
    "api.routers.organisers",
    "api.routers.events",
    "api.routers.participants",
    "api.routers.wishes",
    "api.routers.calendars",
    "api.routers.health",
    "api.routers.jobs",
    "api.routers.schedules",
    "api.routers.hand_edits",
    "api.routers.mails",
    "api.routers.messages",
    "api.routers.agenda",
    "api.routers.imports",
    "api.routers.recommendations",
    "api.routers.eventday",
    "api.routers.proposals",
    "api.routers.docs",
    "api.pages.router",
]

API_DESCRIPTION = """
Schedules pre-arranged one-to-one meetings at matchmaking events.

**Authentication.** Organisers send an API token as `Authorization: Bearer <token>`.
Participants send their personal link token as `X-Participant-Token: <token>` (or
`Authorization: Participant <token>`). Every operation says who may call it.

**Errors** are RFC 9457 problem details (`application/problem+json`) with `type`, `title`,
`status`, `detail`, `instance` and, for input errors, `errors: [{field, message}]`.
Events that the caller has no access to answer 404, never 403.

**Lists** take `limit` and `offset` and answer `{items, total, limit, offset}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application, bound to `settings` (default: from the environment)."""
    settings = settings or get_settings()
    configure_logging(settings)
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Solve jobs: orphaned ones are recovered and queued ones taken up at start-up;
        # running solves are queued again at shutdown.
        start_job_runner(app)
        yield
        stop_job_runner(app)
        engine.dispose()

    app = FastAPI(
        title="matchmaking",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served by api.routers.docs, from the installation
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    # One-statement reads of the hot paths (calendar feeds, agendas), without an ORM session.
    app.state.lean_engine = make_lean_engine(engine)
    app.state.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)
    app.state.read_sessionmaker = read_only_sessionmaker(engine)
    app.state.serving_cache = ServingCache(settings.serving_cache_entries)
    app.state.guess_limiter = GuessLimiter(
        settings.guess_limit_failures, settings.guess_limit_window_seconds
    )
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)
    install_problem_handlers(app, status_page=status_page)
    # Inside the size limit: a body is read whole only once it is known to be small enough.
    app.add_middleware(RefuseNul)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(NoStoreByDefault)
    app.add_middleware(CrossSiteRefusal, base_url=settings.base_url)
    # Outermost: every response (413s included) gets a request id; every request is measured.
    app.add_middleware(RequestContextMiddleware, log_requests=settings.log_requests)
    for module_name in ROUTER_MODULES:
        app.include_router(importlib.import_module(module_name).router)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
