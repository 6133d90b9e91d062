"""The server-rendered web pages: one router, with every page's errors shown as HTML."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute

from api.pages import (
    eventday,
    hand_edits,
    imports,
    messages,
    organiser,
    participant,
    proposals,
    public,
    setup,
)
from api.pages.common import PageError, SecurityHeaders, error_page

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript"}


class PageRoute(APIRoute):
    """A page route: a `PageError` becomes a friendly HTML page with its status code."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except PageError as error:
                return error_page(request, error)

        return handle


def _build() -> APIRouter:
    combined = APIRouter(route_class=PageRoute, include_in_schema=False)
    for module in (
        public,
        participant,
        organiser,
        imports,
        messages,
        proposals,
        setup,
        hand_edits,
        eventday,
    ):
        for route in module.router.routes:
            if not isinstance(route, APIRoute):
                raise AssertionError("isinstance(route, APIRoute)")
            combined.add_api_route(
                route.path,
                route.endpoint,
                methods=list(route.methods or ["GET"]),
                response_class=route.response_class,
                include_in_schema=False,
            )
    return combined


router = _build()


@router.get("/static/{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    """The pages' stylesheets and script (a fixed set of files: no path traversal)."""
    path = STATIC / name
    if path.suffix not in STATIC_MEDIA_TYPES or path.parent != STATIC or not path.is_file():
        raise PageError(404, "Not found", "There is no such file.")
    return FileResponse(
        path,
        media_type=STATIC_MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600"},
    )


__all__ = ["PageError", "SecurityHeaders", "router"]
