"""The names of the pages' cookies on this deployment.

When the public base URL (`MATCHMAKING_BASE_URL`) is https, every cookie is named with the
`__Host-` prefix: the browser then only accepts it Secure, for Path=/ and without a Domain, so
neither another host of the domain nor a plain-http page can set or overwrite it. Over plain
http (development) the prefix cannot be used and the names are bare.
"""

from __future__ import annotations

from fastapi import Request

from matchmaking.platform.settings import Settings

CSRF_COOKIE = "mm_csrf"
#: Cookies of the participant's and the organiser's sign-in sessions (session tokens).
PARTICIPANT_COOKIE = "mm_participant"
ORGANISER_COOKIE = "mm_organiser"
#: Cookie name prefix when the site is served over https (RFC 6265bis "__Host-" cookies).
HOST_PREFIX = "__Host-"


def https_site(settings: Settings) -> bool:
    """Whether the public base URL is https: then cookies are Secure and `__Host-` named."""
    return settings.base_url.lower().startswith("https://")


def cookie_name(request: Request, name: str) -> str:
    """The name a cookie has on this deployment: `__Host-<name>` on an https site."""
    settings: Settings = request.app.state.settings
    return HOST_PREFIX + name if https_site(settings) else name


def cookie(request: Request, name: str) -> str:
    """The value of one of the pages' cookies ("" when absent)."""
    return request.cookies.get(cookie_name(request, name)) or ""
