"""Celery solve workers: the same job function as the in-process runner, on other machines.

A solve is a row in `solve_jobs`; the Celery message only carries its id (and is sent with the
job id as its task id, so a cancelled job can be revoked by id). The job function
`matchmaking.planning.jobs.run_solve_job` is idempotent by job id and writes the version and
the job's success in one transaction, so delivering a message twice never makes two versions.

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
from functools import lru_cache
from typing import Any, cast

from celery import Celery, Task, signals
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.platform.errors import Unavailable
from matchmaking.platform.models import JobStatus, SolveJob, utcnow
from matchmaking.platform.observability import configure_logging, record_solve
from matchmaking.platform.settings import Settings, get_settings

log = logging.getLogger(__name__)

SOLVE_TASK = "matchmaking.solve"
#: Delivers the mail outbox (matchmaking/platform/mail.py); the message carries nothing.
MAIL_TASK = "matchmaking.deliver_mail"
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
        # A worker that lost its broker connection cannot acknowledge anyway: the message comes
        # back (RabbitMQ at once, Redis after the visibility timeout) and the reaper re-queues
        # the job once its heartbeat stops, so stop working on it.
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


celery_app = create_celery_app()


def _session_factory() -> sessionmaker[Session]:
    from matchmaking.platform.db import get_sessionmaker

    return get_sessionmaker()


def _job_status(job_id: str) -> str | None:
    with _session_factory()() as session:
        status = session.scalar(select(SolveJob.status).where(SolveJob.id == job_id))
        return None if status is None else JobStatus(status).value


def _mark_failed_if_running(job_id: str, error: str, worker: str | None = None) -> bool:
    """Fail a job whose solve was stopped by a time limit; a job that ended, or that another
    worker has taken over (when `worker` is given), stays as it is."""
    condition = [SolveJob.id == job_id, SolveJob.status == JobStatus.running]
    if worker is not None:
        condition.append(SolveJob.worker == worker[:200])
    with _session_factory()() as session:
        # An UPDATE gives a CursorResult (with rowcount); Session.execute is typed as Result.
        result = cast(
            "CursorResult[Any]",
            session.execute(
                update(SolveJob)
                .where(*condition)
                .values(status=JobStatus.failed, error=error, finished_at=utcnow())
            ),
        )
        session.commit()
        return result.rowcount == 1


class SolveTask(Task[[str], None]):
    """The solve task; `on_failure` runs in the worker's main process on a hard time limit."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        from billiard.exceptions import TimeLimitExceeded

        if isinstance(exc, TimeLimitExceeded) and args:
            job_id = str(args[0])
            if _mark_failed_if_running(
                job_id, f"the solve exceeded the worker's hard time limit ({exc.args[0]} s)"
            ):
                record_solve(JobStatus.failed.value, float(exc.args[0]) if exc.args else 0.0)
                log.error("solve job %s killed at its hard time limit", job_id)


_ENDED = frozenset({"succeeded", "failed", "cancelled"})


@celery_app.task(name=SOLVE_TASK, base=SolveTask, acks_late=True, reject_on_worker_lost=True)
def solve(job_id: str) -> None:
    """Run one solve job. Idempotent: a finished or cancelled job is left as it is."""
    from billiard.exceptions import SoftTimeLimitExceeded

    from matchmaking.planning.jobs import default_worker_name, run_solve_job

    started = time.monotonic()
    before = _job_status(job_id)
    try:
        run_solve_job(job_id, session_factory=_session_factory())
    except SoftTimeLimitExceeded:
        # Raised outside the job function's own error handling (e.g. while it was writing):
        # the job must not stay `running` until the reaper finds it.
        _mark_failed_if_running(
            job_id, "the solve exceeded the worker's soft time limit", default_worker_name()
        )
    after = _job_status(job_id)
    # Count only the runs that ended the job here (not a duplicate delivery of a done job).
    if after in _ENDED and before not in _ENDED:
        record_solve(after, time.monotonic() - started)


@celery_app.task(name=MAIL_TASK, acks_late=True, reject_on_worker_lost=True)
def deliver_mail() -> None:
    """Send the outbox's due mails. Any number of these may run at once: each mail is
    claimed by one deliverer only."""
    from matchmaking.platform.mail import deliver_due

    deliver_due(_session_factory(), get_settings())


@signals.worker_init.connect
def _preload_solver(**_: Any) -> None:
    # Import the solver (OR-Tools, pandas: seconds) once in the main process, before the pool
    # forks, so that a solve's time limit is not spent importing in a fresh pool process.
    import matchmaking.planning.jobs
    import matchmaking.planning.scheduling  # noqa: F401


# --- the API side: enqueueing and cancelling ---------------------------------------------


def enqueue_solve(job_id: str, solve_seconds: float, app: Celery = celery_app) -> None:
    """Send a job to the solve workers, with the worker-enforced time limits of its solve."""
    soft, hard = solve_time_limits(solve_seconds)
    app.send_task(
        SOLVE_TASK,
        args=[job_id],
        task_id=job_id,
        # celery-types declares int; Celery takes seconds as float (it passes them to timers).
        soft_time_limit=soft,  # type: ignore[arg-type]
        time_limit=hard,  # type: ignore[arg-type]
    )


def revoke_solve(job_id: str, app: Celery = celery_app) -> None:
    """Drop a queued job's message wherever it waits (a running solve sees the job's
    `cancel_requested` flag instead, and stops cleanly with what it has)."""
    app.control.revoke(job_id)


# --- the API side: the runner ----------------------------------------------------------------


class CeleryRunner:
    """The `JobRunner` used when a broker is configured: jobs go to the solve workers.

    Nothing runs in the API process, so shutting the API down leaves running solves alone
    (they belong to the workers) and queued jobs wait in the broker.
    """

    def __init__(self, settings: Settings, session_factory: Callable[[], Session]) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.app = create_celery_app(settings)
        self._stop_mail_wake: Callable[[], None] | None = None
        self._mail_wake = threading.Event()
        self._mail_sender = threading.Thread(
            target=self._send_mail_tasks, name="mail-wake", daemon=True
        )

    def _send_mail_tasks(self) -> None:
        """Ask the workers to deliver the outbox after each commit that queued mail (off the
        committing thread: a broker that is away must not hold up a request). A lost message
        costs nothing but time: the workers' reaper delivers due mails on its own."""
        while True:
            self._mail_wake.wait()
            self._mail_wake.clear()
            try:
                self.app.send_task(MAIL_TASK, queue=self.settings.solve_queue)
            except (KombuOperationalError, OSError) as lost:
                log.error("mail delivery not requested from the workers: %s", lost)

    def _start_mail(self) -> None:
        from matchmaking.platform.mail import on_commit_of_mail

        with self.session_factory() as session:
            engine = session.get_bind()
        self._stop_mail_wake = on_commit_of_mail(engine, self._mail_wake.set)  # type: ignore[arg-type]
        self._mail_sender.start()
        self._mail_wake.set()  # mails queued by a process that died before it asked

    def start(self) -> object:
        """Send every queued job again, in case the process that queued it died between its
        commit and the send; a duplicate message finds the job taken and does nothing."""
        from matchmaking.planning.jobs import JobParameters, Recovery

        with self.session_factory() as session:
            rows = session.execute(
                select(SolveJob.id, SolveJob.parameters).where(SolveJob.status == JobStatus.queued)
            ).all()
        for job_id, parameters in rows:
            limit = JobParameters.from_record(parameters or {}, self.settings).time_limit_seconds
            try:
                enqueue_solve(job_id, limit or self.settings.solve_time_limit_seconds, app=self.app)
            except (KombuOperationalError, OSError) as lost:
                # Left queued: the next start sends it again (/readyz names the broker).
                log.error("queued solve job %s not sent again: %s", job_id, lost)
        self._start_mail()
        return Recovery()

    def submit(self, job_id: str, *, time_limit_seconds: float) -> None:
        """Send the job to the workers; when the broker cannot be reached, the job is marked
        failed (so that the organiser can simply start the solve again) and `Unavailable`
        is raised."""
        try:
            enqueue_solve(
                job_id, time_limit_seconds or self.settings.solve_time_limit_seconds, app=self.app
            )
        except (KombuOperationalError, OSError) as lost:
            log.error("solve job %s could not be sent to the broker: %s", job_id, lost)
            with self.session_factory() as session, session.begin():
                job = session.get(SolveJob, job_id)
                if job is not None and job.status == JobStatus.queued:
                    job.status, job.finished_at = JobStatus.failed, utcnow()
                    job.error = "the solve queue could not be reached; nothing was solved"
            raise Unavailable(
                "The solve queue cannot be reached at the moment, so the solve was not "
                "started. Try again shortly."
            ) from None

    def cancel(self, job_id: str) -> None:
        """Revoke the message of a job cancelled while queued. A running job is not revoked:
        it stops by its `cancel_requested` flag, and a revoke would also drop the message of
        a re-run should its worker die meanwhile, leaving the job queued for ever."""
        with self.session_factory() as session:
            status = session.scalar(select(SolveJob.status).where(SolveJob.id == job_id))
        if status == JobStatus.cancelled:
            revoke_solve(job_id, app=self.app)

    def shutdown(self, *, wait: bool = True) -> None:
        """Nothing runs here. Broker connections are left to process exit: kombu shares its
        producer pools between apps of one broker URL, so closing them here would break
        another app of the same process."""
        if self._stop_mail_wake is not None:
            self._stop_mail_wake()


# --- the reaper: jobs whose worker died ---------------------------------------------------


def _enqueue_from_parameters(job_id: str) -> None:
    from matchmaking.planning.jobs import JobParameters

    with _session_factory()() as session:
        parameters = session.scalar(select(SolveJob.parameters).where(SolveJob.id == job_id))
    enqueue_solve(job_id, JobParameters.from_record(parameters or {}).time_limit_seconds)


def reap_orphaned_jobs(settings: Settings) -> list[str]:
    """Queue again (and send to the workers) every running job whose worker stopped beating;
    returns their ids. Jobs tried `job_max_attempts` times are failed instead."""
    from matchmaking.planning.jobs import requeue_orphaned_jobs

    recovery = requeue_orphaned_jobs(
        _session_factory(),
        heartbeat_timeout_seconds=settings.job_heartbeat_timeout_seconds,
        max_attempts=settings.job_max_attempts,
    )
    for job_id in recovery.requeued:
        _enqueue_from_parameters(job_id)
    for _ in recovery.failed:
        record_solve(JobStatus.failed.value, 0.0)
    return recovery.requeued


class _Reaper:
    """A daemon thread in each worker's main process that re-queues orphaned jobs and
    delivers the mail outbox's due mails."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="solve-job-reaper", daemon=True)

    def _loop(self) -> None:
        from matchmaking.platform.mail import deliver_due

        while not self.stopped.wait(self.settings.job_reaper_interval_seconds):
            try:
                reap_orphaned_jobs(self.settings)
            except Exception:
                # A database or broker outage must not kill the thread: try again next round.
                log.exception("reaping dead solve jobs failed; retrying")
            try:
                # Retries that came due, and mails whose delivery request was lost.
                deliver_due(_session_factory(), self.settings)
            except Exception:
                log.exception("mail delivery failed; retrying")


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
    from matchmaking.platform.db import get_engine

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

    from prometheus_client import start_http_server, values

    from matchmaking.platform.observability import process_registry

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="matchmaking-metrics-")
        # prometheus_client chose single-process storage when it was imported; choose again.
        # Our metrics are made on first use (in the pool processes), so they get the files.
        values.ValueClass = values.get_value_class()
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
        # celery-types declares int; kombu takes the timeout in seconds as float.
        connection.ensure_connection(max_retries=1, timeout=timeout)  # type: ignore[arg-type]


def broker_queue_length(url: str, queue: str) -> int | None:
    """Messages waiting in `queue` (Redis keeps a queue as a list); None for other brokers."""
    if not _is_redis(url):
        return None
    return int(_redis_client(url).llen(queue))
