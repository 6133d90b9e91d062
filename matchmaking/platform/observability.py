"""Operations: structured JSON logs with request ids, and Prometheus metrics.

One ASGI middleware gives every HTTP request an id (the caller's `X-Request-ID` when it is a
sane token, else a fresh one), echoes it in the response, puts it on every log line written
while the request runs, and records the request's latency under its *route template*
(`/api/v1/events/{slug}/agenda`, never the raw path, so the number of series stays bounded).

Solve metrics are recorded by whichever process runs the solve (the API's in-process runner or
a Celery worker); the job table itself is read at scrape time for the queue depth, which is the
same for every process and every runner.

Several API processes (gunicorn workers) share metrics through prometheus_client's multiprocess
mode: set `PROMETHEUS_MULTIPROC_DIR` to an empty directory before they start.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.platform.asgi import ASGIApp, HttpMiddleware, Message, Receive, Scope, Send
from matchmaking.platform.models import JobStatus, SolveJob
from matchmaking.platform.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
#: Accept a caller's request id only when it is a plain token: it ends up in logs and headers.
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("matchmaking_request_id", default=None)

access_log = logging.getLogger("matchmaking.access")

# --- metrics -----------------------------------------------------------------------------


class _Metrics:
    """The process's metric objects, made on first use.

    Made lazily because prometheus_client picks single- or multi-process storage when a
    metric is created: a worker command can still switch multiprocess mode on before that.
    """

    def __init__(self) -> None:
        self.http_request_seconds = Histogram(
            "matchmaking_http_request_duration_seconds",
            "Latency of HTTP requests by route template, method and status code.",
            ["method", "route", "status"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.solves_total = Counter(
            "matchmaking_solves_total",
            "Solve jobs that ended, by the job's final status.",
            ["status"],
        )
        self.solve_seconds = Histogram(
            "matchmaking_solve_duration_seconds",
            "Wall-clock time of solve jobs from start to end, by the job's final status.",
            ["status"],
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
        )


@lru_cache(maxsize=1)
def metrics() -> _Metrics:
    return _Metrics()


def record_solve(status: str, seconds: float) -> None:
    """Count one finished solve job (succeeded, failed, cancelled) and its duration."""
    metrics().solves_total.labels(status=status).inc()
    metrics().solve_seconds.labels(status=status).observe(max(seconds, 0.0))


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


class SolveJobCollector(Collector):
    """Reads the job table at scrape time: jobs by status, so `queued` is the queue depth.

    Counting in the database rather than in a process keeps the figure right whichever
    process enqueued or ran a job. With a Redis broker the length of the Celery queue is
    exported as well (messages not yet taken by any worker).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        broker_queue_length: Callable[[], int | None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._broker_queue_length = broker_queue_length

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "matchmaking_solve_jobs",
            "Solve jobs in the database by status (queued = waiting to run).",
            labels=["status"],
        )
        counts = dict.fromkeys((s.value for s in JobStatus), 0)
        try:
            with self._session_factory() as session:
                rows = session.execute(
                    select(SolveJob.status, func.count()).group_by(SolveJob.status)
                ).all()
        except Exception as exc:
            # The rest of the scrape (latencies, solves) stays useful while the database is
            # away; the missing series tell the outage, and /readyz names it.
            logging.getLogger(__name__).warning("metrics: job counts unavailable: %s", exc)
        else:
            for status, count in rows:
                counts[JobStatus(status).value] = count
            for status, count in counts.items():
                jobs.add_metric([status], count)
            yield jobs
        if self._broker_queue_length is not None:
            length = self._broker_queue_length()
            if length is not None:
                yield GaugeMetricFamily(
                    "matchmaking_broker_queue_length",
                    "Solve messages waiting in the broker queue, not yet taken by a worker.",
                    value=length,
                )

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # No samples at registration time: the database may not be reachable yet.
        return []


def metrics_payload(job_collector: Collector | None = None) -> tuple[bytes, str]:
    """The Prometheus exposition of this process (or of all API processes in multiprocess
    mode), plus the job table gauges when a collector is given."""
    body = generate_latest(process_registry())
    if job_collector is not None:
        extra = CollectorRegistry(auto_describe=False)
        extra.register(job_collector)
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST


# --- logging -----------------------------------------------------------------------------

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "request_id", "color_message"}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


#: Secrets that may appear in log lines: tokens by their prefix (organiser `mmo_`, personal
#: link `mmp_`, calendar feed `mmc_`, browser session `mms_`), secret query parameters, and
#: credentials of HTTP headers.
_SECRET_PATTERNS = (
    (re.compile(r"\b(mm[opcs]_)[A-Za-z0-9_-]{8,}"), r"\1[redacted]"),
    (
        re.compile(r"([?&](?:token|access_token|api_key|key|secret|password)=)[^&\s\"'#]+", re.I),
        r"\1[redacted]",
    ),
    (
        re.compile(
            r"((?:authorization|x-participant-token|cookie)[\"']?\s*[:=,]\s*[\"']?"
            r"(?:bearer |participant |basic )?)[^\s\"',;]+",
            re.I,
        ),
        r"\1[redacted]",
    ),
)


#: Any of `_SECRET_PATTERNS` (case-insensitive: it may find more, never less): most log
#: text holds no secret, and one search costs less than a substitution by each pattern.
_ANY_SECRET = re.compile(
    "|".join(f"(?:{pattern.pattern})" for pattern, _ in _SECRET_PATTERNS), re.I
)


def redact(text: str) -> str:
    """`text` with every secret the service knows the shape of replaced by `[redacted]`."""
    if _ANY_SECRET.search(text) is None:
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple):
        return tuple(_redacted(item) for item in value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    # Anything else (a URL object, an exception, a request) is logged as its text: redact that.
    return redact(str(value))


#: Set on a record once `SecretRedactor` redacted it (a private field: no formatter shows it).
_REDACTED = "_matchmaking_redacted"


class SecretRedactor(logging.Filter):
    """Redacts secrets (tokens in URLs and messages, credentials) from every log record: its
    message, its arguments (in place, so formatters such as uvicorn's access formatter that
    unpack them still work) and its extra fields. Records of `exempt` loggers are left as
    they are (development only: the mail log showing the personal links it would send)."""

    def __init__(self, exempt: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.exempt = exempt

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in self.exempt:
            return True
        # The record passes this filter twice when its logger has it too (see
        # `configure_logging`): once redacted, it has nothing left to redact.
        if getattr(record, _REDACTED, False):
            return True
        setattr(record, _REDACTED, True)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = _redacted(record.args)
        if record.exc_info and not record.exc_text:
            # Formatters print `exc_text` when it is set: the traceback, redacted once.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_RECORD_FIELDS or key == "color_message":
                setattr(record, key, _redacted(value))
        return True


#: Loggers that also get the redactor on themselves, for handlers a server attaches to them
#: directly (uvicorn's or gunicorn's own logging configuration).
_SERVER_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "gunicorn.access",
    "gunicorn.error",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Route all logs (ours, uvicorn's, Celery's) through one handler on stderr.

    JSON lines when `log_json` is set (what a log collector wants), readable text otherwise.
    Calling it again replaces the handler, so it is safe in tests and in forked workers.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    # Every line is redacted, production or not; only development keeps the mail log whole
    # (it shows the personal links a mail server would have delivered).
    exempt = (
        frozenset()
        if settings.environment == "production"
        else frozenset({"matchmaking.platform.mail"})
    )
    redactor = SecretRedactor(exempt)
    handler.addFilter(redactor)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_matchmaking", False)]:
        root.removeHandler(old)
    handler._matchmaking = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn's own access log duplicates ours (which has the route and request id).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for name in (*_SERVER_LOGGERS, access_log.name):
        server_logger = logging.getLogger(name)
        for old_filter in [f for f in server_logger.filters if isinstance(f, SecretRedactor)]:
            server_logger.removeFilter(old_filter)
        server_logger.addFilter(redactor)


# --- the middleware ----------------------------------------------------------------------


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID_PATTERN.match(candidate) else None
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Unmatched paths (404s, scanners) share one label instead of one series each.
    return f"{scope.get('root_path', '')}{path}" if path else "<unmatched>"


class RequestContextMiddleware(HttpMiddleware):
    """Request id, latency histogram by route template, and one access log line per request."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        super().__init__(app)
        self.log_requests = log_requests

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            metrics().http_request_seconds.labels(
                method=method, route=route, status=str(status)
            ).observe(elapsed)
            if self.log_requests:
                access_log.info(
                    "%s %s %s",
                    method,
                    scope.get("path", ""),
                    status,
                    extra={
                        "method": method,
                        "path": scope.get("path", ""),
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)
