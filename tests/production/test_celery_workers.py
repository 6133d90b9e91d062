"""Real `matchmaking worker` processes on the real Redis and PostgreSQL of the machine.

Each test has its own broker queue, so workers of other tests (or leftovers of earlier runs)
never take its messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle.store import import_bundle
from matchmaking.organising import organisers as organiser_service
from matchmaking.planning.celery_app import SOLVE_TASK, create_celery_app
from matchmaking.planning.jobs import create_solve_job
from matchmaking.platform.db import make_engine
from matchmaking.platform.models import (
    Event,
    EventStatus,
    JobStatus,
    MailStatus,
    Meeting,
    OutboxMail,
    ScheduleVersion,
    SolveJob,
)
from matchmaking.platform.settings import Settings
from tests.api.conftest import Mailbox
from tests.processes import MATCHMAKING, free_port, wait_for
from tests.production.conftest import require_broker
from tests.production.events import busy_event_bundle

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

REDIS_URL = os.environ.get("MATCHMAKING_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
RABBITMQ_URL = os.environ.get(
    "MATCHMAKING_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//"
)
#: A worker whose heartbeat is older than this is taken as dead (production: a minute).
HEARTBEAT_TIMEOUT = 3.0


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def owns(self, job_worker: str) -> bool:
        """Whether the job row's `worker` ("host:pid:thread") is one of this worker's
        processes: the pool processes share the worker's process group."""
        pid = int(job_worker.split(":")[1])
        try:
            return os.getpgid(pid) == self.process.pid
        except ProcessLookupError:
            return False

    def kill(self) -> None:
        """The machine dies: the worker and its pool processes, with no chance to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    settings: Settings
    sessions: sessionmaker[Session]
    env: dict[str, str]
    workers: list[Worker]
    tmp_path: Path

    def start_worker(self, name: str, *options: str) -> Worker:
        log = self.tmp_path / f"{name}.log"
        process = subprocess.Popen(
            [MATCHMAKING, "worker", "--hostname", f"{name}@%h", *options],
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to kill it whole
        )
        worker = Worker(name, process, log)
        self.workers.append(worker)
        return worker

    def wait_ready(self, *workers: Worker) -> None:
        for worker in workers:

            def output(log: Path = worker.log) -> str:
                return log.read_text(errors="replace")

            def started(log: Path = worker.log) -> bool:
                return "ready." in log.read_text(errors="replace")

            wait_for(started, f"worker {worker.name} to start", timeout=60, on_timeout=output)

    def job(self, job_id: str) -> SolveJob:
        with self.sessions() as session:
            job = session.get(SolveJob, job_id)
            assert job is not None
            return job

    def versions_of(self, event_id: int) -> list[ScheduleVersion]:
        with self.sessions() as session:
            return list(
                session.scalars(select(ScheduleVersion).where(ScheduleVersion.event_id == event_id))
            )

    def new_event(self) -> tuple[str, int, dict[str, str]]:
        """A busy event owned by a new organiser: (slug, event id, the owner's headers)."""
        with self.sessions() as session:
            organiser, _, secret = organiser_service.create_organiser(
                session, f"owner-{uuid.uuid4().hex[:8]}@example.org", "Owner"
            )
            bundle = Bundle.model_validate(busy_event_bundle(f"kill-{uuid.uuid4().hex[:8]}"))
            event = import_bundle(session, bundle, owner=organiser)
            session.commit()
            return event.slug, event.id, {"Authorization": f"Bearer {secret}"}

    def new_job(self, time_limit_seconds: float) -> tuple[str, int]:
        """A busy event and a queued solve job of it (committed, not yet sent)."""
        with self.sessions() as session:
            bundle = Bundle.model_validate(busy_event_bundle(f"kill-{uuid.uuid4().hex[:8]}"))
            event = import_bundle(session, bundle)
            job = create_solve_job(session, event, time_limit_seconds=time_limit_seconds, workers=2)
            session.commit()
            return job.id, event.id


@pytest.fixture
def broker_url() -> str:
    return REDIS_URL


@pytest.fixture
def cluster(db_url: str, broker_url: str, tmp_path: Path) -> Iterator[Cluster]:
    require_broker(broker_url)
    queue = f"solves-test-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        environment="test",
        database_url=db_url,
        broker_url=broker_url,
        solve_queue=queue,
        job_heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT,
        job_reaper_interval_seconds=0.5,
    )
    env = {
        **os.environ,
        "MATCHMAKING_ENVIRONMENT": "test",
        "MATCHMAKING_DATABASE_URL": db_url,
        "MATCHMAKING_BROKER_URL": broker_url,
        "MATCHMAKING_SOLVE_QUEUE": queue,
        "MATCHMAKING_JOB_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT),
        "MATCHMAKING_JOB_REAPER_INTERVAL_SECONDS": "0.5",
        "MATCHMAKING_LOG_JSON": "true",
    }
    engine = make_engine(db_url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    cluster = Cluster(settings, sessions, env, [], tmp_path)
    yield cluster
    for worker in cluster.workers:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGTERM)
            try:
                worker.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait()
    _delete_queue(broker_url, queue)
    engine.dispose()


def _delete_queue(broker_url: str, queue: str) -> None:
    from kombu import Connection

    with Connection(broker_url) as connection:
        if broker_url.startswith("redis"):
            connection.default_channel.client.delete(queue)
        else:
            connection.default_channel.queue_delete(queue)


POSTGRES_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def api(cluster: Cluster) -> Iterator[TestClient]:
    """The API with the cluster's settings: its job runner sends solves to the workers."""
    app = create_app(cluster.settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def job_status(api: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    response = api.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@POSTGRES_ONLY
def test_worker_killed_mid_solve_hands_the_job_to_the_other_worker_and_one_version_results(
    cluster: Cluster, api: TestClient
) -> None:
    workers = cluster.start_worker("first"), cluster.start_worker("second")
    cluster.wait_ready(*workers)
    slug, event_id, owner = cluster.new_event()

    started = api.post(
        f"/api/v1/events/{slug}/solves",
        json={"time_limit_seconds": 8, "workers": 2},
        headers=owner,
    )
    assert started.status_code == 202, started.text
    job_id, url = started.json()["id"], started.headers["location"]

    wait_for(
        lambda: job_status(api, url, owner)["status"] == "running",
        "the job to start on a worker",
        timeout=30,
    )
    victim = next(w for w in workers if w.owns(cluster.job(job_id).worker))
    survivor = next(w for w in workers if w is not victim)
    time.sleep(2)  # well into the search
    assert job_status(api, url, owner)["status"] == "running"
    assert cluster.versions_of(event_id) == []

    victim.kill()

    done = wait_for(
        lambda: (job := job_status(api, url, owner))["status"] in ("succeeded", "failed") and job,
        "the job to finish on the surviving worker",
        timeout=90,
        on_timeout=lambda: survivor.log.read_text(errors="replace"),
    )
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert survivor.owns(cluster.job(job_id).worker)
    versions = cluster.versions_of(event_id)
    assert len(versions) == 1
    assert done["version"]["number"] == versions[0].number
    assert versions[0].parameters["job"] == job_id
    # On a loaded machine 8 s may end before a first schedule; the version is still whole.
    assert versions[0].status in ("feasible", "optimal", "unknown")
    with cluster.sessions() as session:
        meetings = session.scalar(
            select(func.count()).select_from(Meeting).where(Meeting.version_id == versions[0].id)
        )
    assert (meetings or 0) > 0 or versions[0].status == "unknown"


@POSTGRES_ONLY
def test_cancelling_a_job_through_the_api_stops_its_solve_on_the_worker(
    cluster: Cluster, api: TestClient
) -> None:
    metrics_port = free_port()
    cluster.wait_ready(cluster.start_worker("only", f"--metrics-port={metrics_port}"))
    slug, _, owner = cluster.new_event()
    started = api.post(
        f"/api/v1/events/{slug}/solves", json={"time_limit_seconds": 60}, headers=owner
    )
    assert started.status_code == 202, started.text
    url = started.headers["location"]
    wait_for(
        lambda: job_status(api, url, owner)["status"] == "running", "the job to start", timeout=30
    )

    asked = time.monotonic()
    assert api.post(f"{url}/cancel", headers=owner).status_code in (200, 202)

    wait_for(
        lambda: job_status(api, url, owner)["status"] == "cancelled",
        "the running solve to stop",
        timeout=20,
    )
    assert time.monotonic() - asked < 20  # far from its 60 s time limit
    # The solve ran in a pool process; the worker's metrics port counts it all the same.
    wait_for(
        lambda: (
            'matchmaking_solves_total{status="cancelled"} 1.0'
            in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        ),
        "the worker's metrics to count the cancelled solve",
        timeout=10,
    )


@POSTGRES_ONLY
def test_worker_kills_a_solve_that_overruns_its_time_limit_and_fails_the_job(
    cluster: Cluster,
) -> None:
    worker = cluster.start_worker("strict")
    cluster.wait_ready(worker)
    job_id, event_id = cluster.new_job(time_limit_seconds=60)
    # The worker's limits as the runner would set them for a much shorter solve.
    create_celery_app(cluster.settings).send_task(
        SOLVE_TASK, args=[job_id], task_id=job_id, soft_time_limit=3, time_limit=4
    )

    failed = wait_for(
        lambda: (job := cluster.job(job_id)).status == JobStatus.failed and job,
        "the worker to stop the solve at its time limit",
        timeout=40,
        on_timeout=lambda: worker.log.read_text(errors="replace"),
    )
    assert "time limit" in failed.error.lower() or "TimeLimit" in failed.error
    assert cluster.versions_of(event_id) == []
    assert worker.process.poll() is None  # the worker itself lives on


@POSTGRES_ONLY
@pytest.mark.parametrize("broker_url", [RABBITMQ_URL])
def test_rabbitmq_broker_works_by_url_alone(cluster: Cluster, api: TestClient) -> None:
    cluster.wait_ready(cluster.start_worker("rabbit"))
    slug, event_id, owner = cluster.new_event()
    started = api.post(
        f"/api/v1/events/{slug}/solves", json={"time_limit_seconds": 2}, headers=owner
    )
    assert started.status_code == 202, started.text
    url = started.headers["location"]

    done = wait_for(
        lambda: (job := job_status(api, url, owner))["status"] in ("succeeded", "failed") and job,
        "the solve to finish on the RabbitMQ worker",
        timeout=60,
    )
    assert done["status"] == "succeeded", done["error"]
    assert len(cluster.versions_of(event_id)) == 1


@POSTGRES_ONLY
def test_workers_deliver_the_mail_outbox_each_mail_once(cluster: Cluster) -> None:
    from aiosmtpd.controller import Controller

    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _deliver_through_workers(cluster, mailbox, port)
    finally:
        controller.stop()


def _deliver_through_workers(cluster: Cluster, mailbox: Mailbox, port: int) -> None:
    smtp = {"MATCHMAKING_SMTP_HOST": "127.0.0.1", "MATCHMAKING_SMTP_PORT": str(port)}
    cluster.env.update(smtp)
    workers = cluster.start_worker("mail-a"), cluster.start_worker("mail-b")
    cluster.wait_ready(*workers)
    slug, event_id, _ = cluster.new_event()
    with cluster.sessions() as session, session.begin():
        session.get_one(Event, event_id).status = EventStatus.open
    # The API sends no mail itself with a broker: it asks the workers after each commit.
    settings = cluster.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    app = create_app(settings)
    addresses = [f"p{n}-{uuid.uuid4().hex[:6]}@example.org" for n in range(12)]
    with TestClient(app) as api:
        for address in addresses:
            answer = api.post(
                f"/api/v1/events/{slug}/registrations",
                json={"name": "Ana", "email": address, "organisation": {"name": "Wind Org"}},
            )
            assert answer.status_code == 201, answer.text
    app.state.engine.dispose()

    wait_for(
        lambda: len(mailbox.messages) >= len(addresses),
        "the workers to deliver the mails",
        timeout=60,
        on_timeout=lambda: "\n".join(w.log.read_text(errors="replace") for w in workers),
    )
    time.sleep(2)  # both workers' reapers have looked again
    assert sorted(m["To"] for m in mailbox.messages) == sorted(addresses)
    with cluster.sessions() as session:
        statuses = session.scalars(
            select(OutboxMail.status).where(OutboxMail.event_id == event_id)
        ).all()
    assert statuses == [MailStatus.sent] * len(addresses)
