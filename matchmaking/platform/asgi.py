"""The skeleton of the service's plain ASGI middlewares (request context, body size limit,
NUL refusal, cross-site refusal, security and cache headers).

Plain ASGI rather than Starlette's BaseHTTPMiddleware: it adds microseconds per request and
does not buffer streamed responses. The types are those of the ASGI specification (the same
as `starlette.types`), written here so that the platform does not depend on the web framework.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HttpMiddleware(ABC):
    """A middleware of HTTP requests: anything else (lifespan, websockets), and the requests
    `concerns` leaves out, go straight on to `app`; `handle` takes the others."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def concerns(self, scope: Scope) -> bool:
        """Whether this HTTP request is one for `handle` (all of them, unless a middleware
        says otherwise)."""
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.concerns(scope):
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    @abstractmethod
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The middleware's work on an HTTP request it concerns."""
