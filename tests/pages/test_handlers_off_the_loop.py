"""Page handlers are plain functions: FastAPI runs them in its thread pool, so their
synchronous database work (and, on publish, every participant's mail) never blocks the event
loop. The posted form is read on the loop by the `PostedForm` dependency."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from api.pages.router import router


def test_every_page_handler_is_a_plain_def() -> None:
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    assert len(routes) > 30
    coroutines = [
        f"{route.endpoint.__module__}.{route.endpoint.__name__}"
        for route in routes
        if inspect.iscoroutinefunction(route.endpoint)
    ]
    assert not coroutines, (
        f"async page handlers (they would run SQLAlchemy on the loop): {coroutines}"
    )
