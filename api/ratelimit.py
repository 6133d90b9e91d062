"""A small in-process limiter against guessing secrets (tokens, personal links, feed URLs).

Only failed attempts count: a client (by IP address) that presented `max_failures` unknown
secrets of one scope within `window_seconds` is answered 429 for that scope until the oldest
failure leaves the window. Valid secrets never count, so people who use their own links are
never slowed down, while a guesser gets a few dozen tries a minute against 2^256 tokens.

The counts live in this process only (several workers each keep their own), which is enough
to make guessing pointless; it is not meant as an exact quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from fastapi import Request

from api.problems import TYPE_PREFIX, ProblemError

#: Scopes: each kind of secret is limited on its own.
ORGANISER_TOKEN = "organiser-token"
PARTICIPANT_TOKEN = "participant-token"
CALENDAR_URL = "calendar-url"

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


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter_of(request: Request) -> GuessLimiter:
    limiter: GuessLimiter = request.app.state.guess_limiter
    return limiter


def check_guessing(request: Request, scope: str) -> None:
    """429 when the caller has guessed too often; call before looking a secret up."""
    limiter_of(request).check(client_address(request), scope)


def record_failed_guess(request: Request, scope: str) -> None:
    limiter_of(request).failed(client_address(request), scope)
