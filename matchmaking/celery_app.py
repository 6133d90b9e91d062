"""Celery solve workers: the same job function as the in-process runner, on other machines.

A solve is a row in `solve_jobs`; the Celery message only carries its id (and is sent with the
job id as its task id, so a cancelled job can be revoked by id). The job function
`matchmaking.jobs.run_solve_job` is idempotent by job id and writes the version and the job's
success in one transaction, so delivering a message twice never makes two versions.

What makes a worker dying mid-solve safe:
- `task_acks_late` + `task_reject_on_worker_lost`: the message is acknowledged only when the
  solve ended; a pool process that dies hands it back to the broker.
- A whole worker (or machine) that dies leaves its job `running` with a heartbeat that stops
  moving. Every worker runs a small reaper thread that puts such jobs back in the queue (or
  fails them after `job_max_attempts`). The broker's own redelivery of the unacknowledged
  message comes much later (the visibility timeout must exceed the longest solve) and then
  finds a finished job and does nothing.
- A solve's time limit is enforced by the worker: soft and hard Celery time limits derived from
  the job's own time limit, with a margin for building the model and writing the version. A
  solve killed by the hard limit is marked failed here, since its process is gone.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from celery import Celery, Task, signals
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.models import JobStatus, SolveJob, utcnow
from matchmaking.observability import configure_logging, record_solve
from matchmaking.settings import Settings, get_settings

log = logging.getLogger(__name__)

SOLVE_TASK = "matchmaking.solve"
#: Upper bound of any solve's time limit (the settings refuse more), in seconds.
MAX_SOLVE_SECONDS = 3600.0


def solve_time_limits(solve_seconds: float) -> tuple[float, float]:
    """(soft, hard) worker time limits for a solve allowed `solve_seconds` of search.

    The solver stops itself at its limit; the margin covers loading the event, building the
    model and writing the version (which grows with the event), so only a solve that is truly
    stuck reaches the soft limit, and one that ignores the soft limit (the search runs in C++
    and Python signals wait for it) is killed at the hard one.
    """
    soft = solve_seconds * 1.25 + 60.0
    return soft, soft + 30.0


def create_celery_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("matchmaking", broker=settings.broker_url or "memory://", set_as_current=False)
    _, longest_hard_limit = solve_time_limits(MAX_SOLVE_SECONDS)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # The job table is the result store; Celery results would be a second, partial copy.
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_default_queue=settings.solve_queue,
        task_serializer="json",
        accept_content=["json"],
        # Redis (and SQS) re-deliver an unacknowledged message after this long; it must exceed
        # the longest solve or a healthy long solve would be started a second time.
        broker_transport_options={"visibility_timeout": int(longest_hard_limit * 2)},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_max_tasks_per_child=50,
        worker_send_task_events=False,
        # A worker that lost its broker connection cannot acknowledge anyway: its job will be
        # redelivered, so stop working on it.
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


celery_app = create_celery_app()


def _session_factory() -> sessionmaker[Session]:
    from matchmaking.db import get_sessionmaker

    return get_sessionmaker()


def _job_status(job_id: str) -> str | None:
    with _session_factory()() as session:
        status = session.scalar(select(SolveJob.status).where(SolveJob.id == job_id))
        return None if status is None else JobStatus(status).value


def _mark_failed_if_running(job_id: str, error: str) -> bool:
    """Fail a job whose solve was killed (hard time limit); a job that ended stays as it is."""
    with _session_factory()() as session:
        result = session.execute(
            update(SolveJob)
            .where(SolveJob.id == job_id, SolveJob.status == JobStatus.running)
            .values(status=JobStatus.failed, error=error, finished_at=utcnow())
        )
        session.commit()
        return result.rowcount == 1  # type: ignore[attr-defined]


class SolveTask(Task):  # type: ignore[misc]
    """The solve task; `on_failure` runs in the worker's main process on a hard time limit."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        from billiard.exceptions import TimeLimitExceeded

        if isinstance(exc, TimeLimitExceeded) and args:
            job_id = str(args[0])
            if _mark_failed_if_running(
                job_id, f"the solve exceeded the worker's time limit ({exc})"
            ):
                record_solve(JobStatus.failed.value, float(exc.args[0]) if exc.args else 0.0)
                log.error("solve job %s killed at its hard time limit", job_id)


@celery_app.task(name=SOLVE_TASK, base=SolveTask, acks_late=True, reject_on_worker_lost=True)
def solve(job_id: str) -> None:
    """Run one solve job. Idempotent: a finished or cancelled job is left as it is."""
    from matchmaking.jobs import run_solve_job

    started = time.monotonic()
    before = _job_status(job_id)
    run_solve_job(job_id, session_factory=_session_factory())
    after = _job_status(job_id)
    # Count only the runs that ended the job here (not a duplicate delivery of a done job).
    if after in {"succeeded", "failed", "cancelled"} and before not in {
        "succeeded",
        "failed",
        "cancelled",
    }:
        record_solve(after, time.monotonic() - started)


# --- the API side: enqueueing and cancelling ---------------------------------------------


def enqueue_solve(job_id: str, solve_seconds: float, app: Celery = celery_app) -> None:
    """Send a job to the solve workers, with the worker-enforced time limits of its solve."""
    soft, hard = solve_time_limits(solve_seconds)
    app.send_task(SOLVE_TASK, args=[job_id], task_id=job_id, soft_time_limit=soft, time_limit=hard)


def revoke_solve(job_id: str, app: Celery = celery_app) -> None:
    """Drop a queued job's message wherever it waits (a running solve sees the job's
    `cancel_requested` flag instead, and stops cleanly with what it has)."""
    app.control.revoke(job_id)


# --- the reaper: jobs whose worker died ---------------------------------------------------


def requeue_dead_jobs(
    session_factory: sessionmaker[Session],
    enqueue: Callable[[str], None],
    *,
    heartbeat_timeout: float,
    max_attempts: int,
) -> list[str]:
    """Put back in the queue every running job whose heartbeat stopped; fail those that have
    already been tried `max_attempts` times. Returns the ids of the jobs re-queued.

    Each job is taken with a conditional UPDATE (status still `running`, heartbeat still
    stale), so when several workers reap at once exactly one of them re-queues a job.
    """
    cutoff = utcnow() - timedelta(seconds=heartbeat_timeout)
    stale = and_(
        SolveJob.status == JobStatus.running,
        or_(
            SolveJob.heartbeat_at < cutoff,
            and_(SolveJob.heartbeat_at.is_(None), SolveJob.started_at < cutoff),
        ),
    )
    requeued: list[str] = []
    with session_factory() as session:
        candidates = session.execute(select(SolveJob.id, SolveJob.attempts).where(stale)).all()
        for job_id, attempts in candidates:
            if attempts >= max_attempts:
                values: dict[str, Any] = {
                    "status": JobStatus.failed,
                    "finished_at": utcnow(),
                    "error": f"the worker running this solve stopped {attempts} times; gave up",
                }
            else:
                values = {"status": JobStatus.queued, "worker": "", "heartbeat_at": None}
            taken = session.execute(
                update(SolveJob).where(SolveJob.id == job_id, stale).values(values)
            )
            session.commit()
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another worker got there first
            if values["status"] == JobStatus.queued:
                log.warning("solve job %s lost its worker; queued again", job_id)
                enqueue(job_id)
                requeued.append(job_id)
            else:
                log.error("solve job %s failed: its worker stopped %d times", job_id, attempts)
                record_solve(JobStatus.failed.value, 0.0)
    return requeued


def _enqueue_from_parameters(job_id: str) -> None:
    with _session_factory()() as session:
        parameters = session.scalar(select(SolveJob.parameters).where(SolveJob.id == job_id)) or {}
    limit = float(parameters.get("time_limit_seconds") or get_settings().solve_time_limit_seconds)
    enqueue_solve(job_id, limit)


class _Reaper:
    """A daemon thread in each worker's main process that re-queues orphaned jobs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="solve-job-reaper", daemon=True)

    def _loop(self) -> None:
        while not self.stopped.wait(self.settings.job_reaper_interval_seconds):
            try:
                requeue_dead_jobs(
                    _session_factory(),
                    _enqueue_from_parameters,
                    heartbeat_timeout=self.settings.job_heartbeat_timeout_seconds,
                    max_attempts=self.settings.job_max_attempts,
                )
            except Exception:
                # A database or broker outage must not kill the thread: try again next round.
                log.exception("reaping dead solve jobs failed; retrying")


_reaper: _Reaper | None = None


@signals.worker_ready.connect
def _start_reaper(**_: Any) -> None:
    global _reaper
    _reaper = _Reaper(get_settings())
    _reaper.thread.start()


@signals.worker_shutting_down.connect
def _stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stopped.set()


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting this signal keeps Celery from installing its own handlers: one log format.
    configure_logging(get_settings())


@signals.worker_process_init.connect
def _fresh_connections_in_child(**_: Any) -> None:
    # Pooled database connections must not be shared across fork().
    from matchmaking.db import get_engine

    get_engine().dispose(close=False)


# --- the worker command --------------------------------------------------------------------


class WorkerConfigurationError(Exception):
    """The worker cannot start with these settings (the message says what to set)."""


def worker_argv(
    concurrency: int, queues: Sequence[str], loglevel: str, hostname: str | None
) -> list[str]:
    argv = [
        "worker",
        f"--concurrency={concurrency}",
        f"--queues={','.join(queues)}",
        f"--loglevel={loglevel}",
        # Prefork: each solve in its own process, so the hard time limit can kill it.
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    return argv


def _serve_worker_metrics(port: int) -> None:
    """Serve the metrics of this worker and its pool processes on `port`.

    Solves run in forked pool processes, so their counters are only visible to the main
    process through prometheus_client's multiprocess files; a private directory is made for
    them unless the operator chose one.
    """
    import tempfile

    from prometheus_client import start_http_server

    from matchmaking.observability import process_registry

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="matchmaking-metrics-")
    start_http_server(port, registry=process_registry())


def run_worker(
    concurrency: int = 1,
    queues: Sequence[str] | None = None,
    hostname: str | None = None,
    metrics_port: int | None = None,
) -> None:
    """Start a solve worker in this process (blocks until it shuts down)."""
    settings = get_settings()
    if not settings.broker_url:
        raise WorkerConfigurationError(
            "MATCHMAKING_BROKER_URL is not set: a solve worker needs a broker "
            "(e.g. redis://127.0.0.1:6379/0 or amqp://guest@127.0.0.1:5672//). Without one, "
            "solves run inside the API process and no worker is needed."
        )
    if concurrency < 1:
        raise WorkerConfigurationError(f"--concurrency must be at least 1, got {concurrency}")
    if metrics_port:
        _serve_worker_metrics(metrics_port)
    celery_app.worker_main(
        worker_argv(concurrency, queues or [settings.solve_queue], settings.log_level, hostname)
    )


# --- broker checks (readiness, queue depth) -------------------------------------------------


@lru_cache(maxsize=4)
def _redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=2.0)


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


def check_broker(url: str, timeout: float = 2.0) -> None:
    """Raise if the broker at `url` cannot be reached within `timeout` seconds."""
    if _is_redis(url):
        _redis_client(url).ping()
        return
    from kombu import Connection

    with Connection(url, connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)


def broker_queue_length(url: str, queue: str) -> int | None:
    """Messages waiting in `queue` (Redis keeps a queue as a list); None for other brokers."""
    if not _is_redis(url):
        return None
    return int(_redis_client(url).llen(queue))
