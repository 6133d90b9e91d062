"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error the API answers has `type`, `title`, `status`, `detail` and `instance`; input
errors add `errors: [{"field": "body.email", "message": "..."}]` naming each field at fault.
Endpoints raise `ProblemError` (or a `matchmaking.platform.errors.DomainError` from a service); the
handlers here turn every exception, expected or not, into such a document. Unknown errors
become a 500 problem without a traceback (the traceback goes to the log).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matchmaking.organising.event_checks import SetupInvalid
from matchmaking.platform import errors
from matchmaking.platform.asgi import HttpMiddleware

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Problem types are relative URIs, resolved against the API's base URL (see docs/api.md).
TYPE_PREFIX = "/problems/"


class FieldError(BaseModel):
    """One field at fault and what is wrong with it."""

    field: str = Field(examples=["body.email"])
    message: str = Field(examples=["value is not a valid email address"])


class ProblemDetails(BaseModel):
    """An RFC 9457 problem details document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", examples=["/problems/validation-error"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str = Field(default="", examples=["body.email: value is not a valid email address"])
    instance: str = Field(default="", examples=["/api/v1/events/eu-canada-2024/registrations"])
    errors: list[FieldError] = Field(default_factory=list)


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_ or "about:blank"
        self.errors = errors or []
        self.headers = headers


def conflict(detail: str, errors: list[FieldError] | None = None) -> ProblemError:
    """409 for a request that the event's current state does not allow."""
    return ProblemError(
        409,
        detail,
        title="Conflict with the current state",
        type_=TYPE_PREFIX + "conflict",
        errors=errors,
    )


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """A problem document response; `instance` defaults to the request's path."""
    body = ProblemDetails(
        type=type_ or "about:blank",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance if instance is not None else (request.url.path if request else ""),
        errors=errors or [],
    )
    return JSONResponse(
        jsonable_encoder(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "wishes", 0, "to")` → `"body.wishes.0.to"`."""
    return ".".join(str(part) for part in loc) or "body"


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    found = []
    for error in exc.errors():
        loc = error.get("loc", ())
        if error.get("type") == "json_invalid":
            loc = ("body",)
        found.append(FieldError(field=field_name(loc), message=str(error.get("msg", "invalid"))))
    return found


def refuse_nulls(changes: dict[str, Any], nullable: frozenset[str] = frozenset()) -> None:
    """422 naming each field of a partial update that was sent as null but cannot be cleared.

    Nested changes (`{"organisation": {...}}`) are checked too, with dotted names.
    """
    bad = _null_fields(changes, nullable, "")
    if bad:
        raise ProblemError(
            422,
            "These fields cannot be cleared: " + ", ".join(bad) + ".",
            title="Invalid input",
            type_=TYPE_PREFIX + "validation-error",
            errors=[FieldError(field=f"body.{name}", message="may not be null") for name in bad],
        )


def _null_fields(changes: dict[str, Any], nullable: frozenset[str], prefix: str) -> list[str]:
    bad = []
    for name, value in changes.items():
        if isinstance(value, dict):
            bad += _null_fields(value, nullable, f"{prefix}{name}.")
        elif value is None and f"{prefix}{name}" not in nullable:
            bad.append(f"{prefix}{name}")
    return bad


# --- handlers ------------------------------------------------------------------------------

_DOMAIN_STATUS: dict[type[errors.DomainError], tuple[int, str]] = {
    errors.NotFound: (404, "not-found"),
    errors.Conflict: (409, "conflict"),
    errors.Invalid: (422, "validation-error"),
    errors.Forbidden: (403, "forbidden"),
    errors.Unavailable: (503, "service-unavailable"),
}


def _domain_status(exc: errors.DomainError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in _DOMAIN_STATUS:
            return _DOMAIN_STATUS[cls]
    return 400, "bad-request"


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, ProblemError):
        raise AssertionError("isinstance(exc, ProblemError)")
    return problem_response(
        request,
        exc.status,
        exc.detail,
        title=exc.title,
        type_=exc.type,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, errors.DomainError):
        raise AssertionError("isinstance(exc, errors.DomainError)")
    status, slug = _domain_status(exc)
    field_errors = [FieldError(field=exc.field, message=exc.detail)] if exc.field else []
    if isinstance(exc, SetupInvalid):
        field_errors = [
            FieldError(field=f"body.{p.field}", message=p.message) for p in exc.problems
        ]
    return problem_response(
        request,
        status,
        exc.detail,
        title=exc.title,
        type_=TYPE_PREFIX + slug,
        errors=field_errors,
        headers={"Retry-After": "10"} if status == 503 else None,
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise AssertionError("isinstance(exc, RequestValidationError)")
    field_errors = _validation_errors(exc)
    detail = "; ".join(f"{e.field}: {e.message}" for e in field_errors)
    return problem_response(
        request,
        422,
        detail or "The request is not valid.",
        title="Invalid input",
        type_=TYPE_PREFIX + "validation-error",
        errors=field_errors,
    )


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the JSON API, whose clients get problem details)."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise AssertionError("isinstance(exc, StarletteHTTPException)")
    status_page: Callable[[Request, int], Response] | None = getattr(
        request.app.state, "status_page", None
    )
    if exc.status_code in (404, 405) and status_page is not None and wants_html(request):
        return status_page(request, exc.status_code)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else ""
    if exc.status_code == 404 and not detail:
        detail = f"There is nothing at {request.url.path}."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        if not detail:
            detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(request, exc.status_code, detail, headers=headers or None)


def _allowed_methods(request: Request) -> str:
    # Starlette's Allow names only the methods of the first route whose path matched; a path
    # served by several routes (GET and POST endpoints) needs them all. The OpenAPI document
    # knows every operation of every path.
    paths = request.app.openapi().get("paths", {})
    path = request.url.path
    # A literal path (`/events/import`) is the resource meant, not the template it also fits.
    if path in paths:
        matching = [paths[path]]
    else:
        matching = [
            item
            for template, item in paths.items()
            if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path)
        ]
    methods = {m.upper() for item in matching for m in item if m in _HTTP_METHODS}
    return ", ".join(sorted(methods))


_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A unique or foreign key constraint caught what the services did not check first
    # (usually two requests racing); the database kept its state, so the client may retry.
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        request,
        409,
        "The change conflicts with data stored meanwhile (for example a duplicate key). "
        "Nothing was changed; reload and try again.",
        title="Conflict with the current state",
        type_=TYPE_PREFIX + "conflict",
    )


#: PostgreSQL deadlock and serialization failure: the transaction was rolled back and may
#: simply be retried.
_RETRYABLE_PGCODES = {"40P01", "40001"}


async def _on_operational_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, OperationalError):
        raise AssertionError("isinstance(exc, OperationalError)")
    pgcode = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    locked = "database is locked" in str(exc.orig)
    if _database_unreachable(exc, pgcode):
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem_response(
            request,
            503,
            "The database cannot be reached at the moment; nothing was changed. Try again shortly.",
            title="Service unavailable",
            type_=TYPE_PREFIX + "database-unavailable",
            headers={"Retry-After": "5"},
        )
    if pgcode in _RETRYABLE_PGCODES or locked:
        log.warning(
            "retryable database conflict on %s %s: %s", request.method, request.url.path, exc.orig
        )
        return problem_response(
            request,
            503,
            "The database was busy with a conflicting change; nothing was changed. Try again.",
            type_=TYPE_PREFIX + "busy",
            headers={"Retry-After": "1"},
        )
    return await _on_unexpected(request, exc)


def _database_unreachable(exc: OperationalError, pgcode: str | None) -> bool:
    # A lost or refused connection (server down, restarted, backend terminated) carries no
    # SQLSTATE or one of class 08 (connection exception) or 57 (operator intervention).
    if exc.connection_invalidated or exc.statement is None:
        # No statement: the error came while connecting, before any SQL was sent.
        return True
    if type(exc.orig).__module__.startswith("psycopg"):
        return pgcode is None or pgcode.startswith(("08", "57"))
    return False


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # A value that passed the input checks but that the database cannot hold (a NUL
    # character, a number beyond the column's range): the statement failed, nothing was stored.
    log.warning("data error on %s %s: %s", request.method, request.url.path, exc)
    nul_fields: list[str] = getattr(request.state, "nul_fields", [])
    if nul_fields:
        return problem_response(
            request,
            422,
            f"`{nul_fields[0]}` {NUL_MESSAGE}; nothing was changed.",
            title="Invalid input",
            type_=TYPE_PREFIX + "validation-error",
            errors=[FieldError(field=field, message=NUL_MESSAGE) for field in nul_fields],
        )
    return problem_response(
        request,
        422,
        "A value cannot be stored: it holds a character or a number out of the range the "
        "database accepts (for example a NUL character or a number beyond 2147483647). "
        "Nothing was changed.",
        title="Invalid input",
        type_=TYPE_PREFIX + "validation-error",
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        500,
        "An unexpected error occurred. It has been logged; nothing was changed.",
        type_=TYPE_PREFIX + "internal-error",
    )


def install_problem_handlers(
    app: FastAPI, status_page: Callable[[Request, int], Response] | None = None
) -> None:
    """Answer errors as problem details; with `status_page` (the pages' renderer, which sits
    above this module), a browser asking for a missing page or method gets a page instead."""
    app.state.status_page = status_page
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(errors.DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(OperationalError, _on_operational_error)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(Exception, _on_unexpected)


# --- request body size limit -----------------------------------------------------------------


class BodySizeLimit(HttpMiddleware):
    """Answers 413 to a request whose body exceeds `max_bytes`, before any endpoint runs.

    A declared Content-Length is checked at once; a body without one (chunked) is read up to
    the limit and replayed to the application.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        response = problem_response(
            request,
            413,
            f"The request body is larger than the limit of {self.max_bytes} bytes.",
            type_=TYPE_PREFIX + "body-too-large",
        )
        await response(scope, receive, send)


# --- OpenAPI ---------------------------------------------------------------------------------

_DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8, or not the declared content type).",
    401: "Not authenticated: credentials are missing, unknown or revoked.",
    403: "Authenticated, but the caller's role does not allow this.",
    404: "Not found, or not visible to the caller (events of others are never revealed).",
    409: "Conflicts with the current state (lifecycle, caps, cut-off, duplicates).",
    413: "The request body is too large.",
    503: "The database was busy with a conflicting change or cannot be reached at the moment; "
    "nothing was changed. Retry (see Retry-After).",
    429: "Too many unknown secrets were sent from this address lately; retry after Retry-After.",
    422: "Invalid input; `errors` names each field at fault.",
    500: "Unexpected error (logged; nothing was changed).",
}

_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Send an organiser API token as 'Authorization: Bearer <token>'.",
        "instance": "/api/v1/events",
        "errors": [],
    },
    403: {
        "type": "/problems/forbidden",
        "title": "Forbidden",
        "status": 403,
        "detail": "Only an owner of the event may do this.",
        "instance": "/api/v1/events/eu-canada-2024",
        "errors": [],
    },
    404: {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "There is no event 'eu-canada-2024'.",
        "instance": "/api/v1/events/eu-canada-2024",
        "errors": [],
    },
    409: {
        "type": "/problems/conflict",
        "title": "Conflict with the current state",
        "status": 409,
        "detail": "You have sent 10 wishes, the most this event allows.",
        "instance": "/api/v1/events/eu-canada-2024/me/wishes",
        "errors": [],
    },
    422: {
        "type": "/problems/validation-error",
        "title": "Invalid input",
        "status": 422,
        "detail": "body.email: value is not a valid email address",
        "instance": "/api/v1/events/eu-canada-2024/registrations",
        "errors": [{"field": "body.email", "message": "value is not a valid email address"}],
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem statuses an endpoint can answer."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        content: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
        if status in _EXAMPLES:
            content["example"] = _EXAMPLES[status]
        responses[status] = {
            "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: content},
        }
    return responses


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Put the problem schemas into an OpenAPI document and replace FastAPI's default 422.

    Every operation also gets the 500 problem, which any endpoint can answer.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ProblemDetails, FieldError):
        components[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    components.get(ProblemDetails.__name__, {}).pop("$defs", None)
    default_422 = "#/components/schemas/HTTPValidationError"
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if path.startswith(("/api/", "/calendars/")):
                # Every operation of these reads the database, which may be unreachable.
                operation["responses"].setdefault("503", problem_responses(503)[503])
            responses = operation["responses"]
            for status, response in list(responses.items()):
                json_schema = response.get("content", {}).get("application/json", {})
                if json_schema.get("schema", {}).get("$ref") == default_422:
                    responses[status] = problem_responses(422)[422]
            if "requestBody" in operation:
                # A body that is not valid UTF-8 or JSON framing fails before validation.
                responses.setdefault("400", problem_responses(400)[400])
            responses.setdefault("500", problem_responses(500)[500])
            if operation.get("security"):
                # Every credential check is limited against guessing (api.ratelimit).
                responses.setdefault("429", problem_responses(429)[429])
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    _unique_operation_ids(schema)
    return schema


def _unique_operation_ids(schema: dict[str, Any]) -> None:
    # FastAPI gives a route serving several methods (GET and HEAD) one operationId for all of
    # them; OpenAPI wants each unique, so later ones get their method appended.
    seen: set[str] = set()
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            operation_id = operation["operationId"]
            if operation_id in seen:
                operation_id = f"{operation_id}_{method}"
                operation["operationId"] = operation_id
            seen.add(operation_id)


# --- NUL characters ----------------------------------------------------------------------------

NUL_MESSAGE = "must not contain a NUL character (U+0000)"


def _nul_in_json(value: Any, where: str) -> list[str]:
    """The dotted paths (`body.wishes.0.to`) of the strings and keys holding U+0000."""
    if isinstance(value, str):
        return [where] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                found.append(where)
            else:
                found += _nul_in_json(item, f"{where}.{key}")
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += _nul_in_json(item, f"{where}.{index}")
    return found


class RefuseNul(HttpMiddleware):
    """Answers 422 naming the parameter to an API request with a NUL character in its path or
    its query, before any endpoint runs; and notes where a JSON body holds one.

    No text of the service may hold U+0000 (PostgreSQL cannot store it). A body is still
    validated as usual, so that every problem of it is listed; the fields that hold a NUL
    (`request.state.nul_fields`) name the culprit when only the database refuses the value.
    Bodies are parsed here only when their raw bytes hold the JSON escape of NUL.
    """

    def concerns(self, scope: Scope) -> bool:
        return str(scope.get("path", "")).startswith("/api/")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        field = self._in_address(scope)
        if field is not None:
            await self._refuse(scope, receive, send, field)
            return
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if b"\\u0000" in body:
            try:
                fields = _nul_in_json(json.loads(body), "body")
            except ValueError:
                fields = []  # not JSON: the endpoint's own parsing answers 422
            if fields:
                scope.setdefault("state", {})["nul_fields"] = fields

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _in_address(scope: Scope) -> str | None:
        if "\x00" in str(scope.get("path", "")):
            return "path"
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return f"query.{name.replace(chr(0), '')}"
        return None

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, field: str) -> None:
        response = problem_response(
            Request(scope),
            422,
            f"`{field}` {NUL_MESSAGE}; nothing was changed.",
            title="Invalid input",
            type_=TYPE_PREFIX + "validation-error",
            errors=[FieldError(field=field, message=NUL_MESSAGE)],
        )
        await response(scope, receive, send)
