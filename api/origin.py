"""Refuses state-changing requests that a page of another site made the browser send.

A request with a method other than GET, HEAD or OPTIONS is refused with 403 when the browser
says it comes from elsewhere: `Sec-Fetch-Site: cross-site`, or an `Origin` that is neither
this server's own (scheme and host of the request) nor that of the public base URL
(`Origin: null` counts as no Origin: browsers send it for same-site forms of pages whose
Referrer-Policy is no-referrer). Requests
without these headers (API clients, curl, older browsers) are judged by their credentials as
usual: the JSON API only takes credentials from headers (`api.deps`), and page forms carry
CSRF tokens bound to the session (`api.pages.common`). This is the second, independent line.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import TYPE_PREFIX, problem_response
from matchmaking.platform.asgi import HttpMiddleware

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class CrossSiteRefusal(HttpMiddleware):
    """403 for unsafe requests sent by a page of another site (see the module's text)."""

    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        super().__init__(app)
        self.public_origin = _origin_of(base_url)

    def concerns(self, scope: Scope) -> bool:
        return scope["method"] not in SAFE_METHODS

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        origin = headers.get(b"origin", b"").decode("latin-1").lower()
        own = f"{scope.get('scheme', 'http')}://{headers.get(b'host', b'').decode('latin-1')}"
        foreign_origin = origin not in ("", "null") and origin not in (
            own.lower(),
            self.public_origin,
        )
        # `Origin: null` says nothing: browsers send it for the site's own forms too when the
        # page's Referrer-Policy is no-referrer (as ours is); Sec-Fetch-Site then tells.
        if site == "cross-site" or foreign_origin:
            response = problem_response(
                None,
                403,
                "This request came from a page of another site and was refused; nothing was "
                "changed.",
                type_=TYPE_PREFIX + "cross-site-request",
                instance=scope.get("path", ""),
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
