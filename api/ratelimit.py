"""A small in-process limiter against guessing secrets (tokens, personal links, feed URLs).

Only failed attempts count, per client address *and* kind of secret (scope): a client that
presented `max_failures` unknown secrets of one scope within `window_seconds` is answered 429
for further unknown secrets of that scope until the oldest failure leaves the window. A valid
secret is looked up first and never refused, even from a blocked address (many participants
share one address on a venue's Wi-Fi), while a guesser gets a few dozen tries a minute
against 2^256 tokens.

The client address is the connection's peer, unless the peer is one of the configured trusted
proxies (`MATCHMAKING_TRUSTED_PROXIES`): then it is the rightmost address of
`X-Forwarded-For` that is not a trusted proxy (what the proxy nearest to the client saw), so
addresses a client writes into the header itself change nothing.

The counts live in this process only (several workers each keep their own), which is enough
to make guessing pointless; it is not meant as an exact quota.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from fastapi import Request

from api.problems import TYPE_PREFIX, ProblemError

#: Scopes: each kind of secret is limited on its own.
ORGANISER_TOKEN = "organiser-token"  # noqa: S105 - a scope name, not a secret
PARTICIPANT_TOKEN = "participant-token"  # noqa: S105 - a scope name, not a secret
CALENDAR_URL = "calendar-url"
#: The pages' sign-in session cookies.
SESSION_TOKEN = "session-token"  # noqa: S105 - a scope name, not a secret

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Clients remembered at most; the least recently failing ones are forgotten first.
_MAX_CLIENTS = 50_000


class GuessLimiter:
    """Failed attempts per (client, scope) in a sliding window."""

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str, scope: str) -> None:
        """Raise a 429 problem when `client` has used up its failures for `scope`."""
        wait = self.seconds_blocked(client, scope)
        if wait > 0:
            raise ProblemError(
                429,
                f"Too many unknown or revoked secrets were sent from your address. "
                f"Try again in {math.ceil(wait)} seconds.",
                type_=TYPE_PREFIX + "too-many-attempts",
                headers={"Retry-After": str(math.ceil(wait))},
            )

    def seconds_blocked(self, client: str, scope: str) -> float:
        """How long `client` must wait before trying `scope` again (0: it may try now)."""
        with self._lock:
            recent = self._recent(client, scope)
            if recent is None or len(recent) < self.max_failures:
                return 0.0
            return max(recent[0] + self.window_seconds - self._clock(), 0.001)

    def failed(self, client: str, scope: str) -> None:
        """Count one failed attempt."""
        with self._lock:
            key = (client, scope)
            recent = self._recent(client, scope) or deque()
            recent.append(self._clock())
            self._failures[key] = recent
            self._failures.move_to_end(key)
            while len(self._failures) > _MAX_CLIENTS:
                self._failures.popitem(last=False)

    def _recent(self, client: str, scope: str) -> deque[float] | None:
        recent = self._failures.get((client, scope))
        if recent is None:
            return None
        horizon = self._clock() - self.window_seconds
        while recent and recent[0] <= horizon:
            recent.popleft()
        return recent


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or networks (`10.0.0.1, 192.168.0.0/16, ::1`).
    ValueError names an entry that is neither."""
    networks = []
    for entry in (e.strip() for e in value.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f'"{entry}" is not an IP address or network') from None
    return tuple(networks)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def forwarded_client(peer: str, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str:
    """The client's address: `peer`, or behind trusted `proxies` the rightmost untrusted
    address of the `X-Forwarded-For` values (each proxy appends the address it saw)."""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


def client_address(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    proxies: tuple[Network, ...] = getattr(request.app.state, "trusted_proxies", ())
    return forwarded_client(peer, request.headers.getlist("x-forwarded-for"), proxies)


def limiter_of(request: Request) -> GuessLimiter:
    limiter: GuessLimiter = request.app.state.guess_limiter
    return limiter


def record_failed_guess(request: Request, scope: str) -> None:
    """Count an unknown secret of `scope`: a 429 problem when the caller has already sent
    too many. Called only after the secret was looked up and found unknown, so a valid
    secret is never refused."""
    limiter = limiter_of(request)
    client = client_address(request)
    limiter.check(client, scope)
    limiter.failed(client, scope)
