"""Errors of the domain services, free of HTTP: the API maps each kind to a status code.

Every error says what was wrong and, when one field of the input is at fault, which one
(`field` uses the API's dotted form, e.g. `body.to`), so a person can act on it.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class; `title` is a short summary that is the same for every error of a kind."""

    title = "Request cannot be processed"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know that it exists)."""

    title = "Not found"


class Conflict(DomainError):
    """The request is valid but clashes with the current state (lifecycle, caps, duplicates)."""

    title = "Conflict with the current state"


class Invalid(DomainError):
    """The input is well-formed but its values do not make sense together."""

    title = "Invalid input"


class Forbidden(DomainError):
    """The caller is known but its role does not allow this."""

    title = "Forbidden"


class Unavailable(DomainError):
    """A service the request needs (the solve queue's broker) cannot be reached; nothing was
    done and the same request may be sent again shortly."""

    title = "Service unavailable"
