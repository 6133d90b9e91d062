"""Real processes for the tests that crash, stop or load them: `matchmaking serve` on a free
port, and waiting for what such a process should do, with its log on failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from matchmaking.platform.models import JobStatus, SolveJob

MATCHMAKING = str(Path(sys.executable).with_name("matchmaking"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    condition: Callable[[], Any],
    what: str,
    timeout: float,
    log: Path | None = None,
    on_timeout: Callable[[], str] | None = None,
) -> Any:
    """Poll `condition` until it returns something true (returned), or fail the test with the
    tail of `log` or of what `on_timeout` tells."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    detail = on_timeout() if on_timeout else log.read_text(errors="replace") if log else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{detail[-4000:]}")


class ApiServer:
    """`matchmaking serve` as a real process on a free port, without a broker (the in-process
    runner), ready once /readyz answers 200."""

    def __init__(self, db_url: str, log: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "MATCHMAKING_DATABASE_URL": db_url,
            "MATCHMAKING_ENVIRONMENT": "test",
            **env,
        }
        environment.pop("MATCHMAKING_BROKER_URL", None)
        self.process = subprocess.Popen(
            [MATCHMAKING, "serve", "--port", str(self.port)],
            env=environment,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.log = log
        wait_for(self._ready, "the server to start", 60, log)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM: a graceful shutdown; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def start_solve(
    server: ApiServer,
    slug: str,
    owner: dict[str, str],
    seconds: float,
    sessions: Callable[[], Session],
) -> Callable[[], SolveJob]:
    """Start a solve through the server's API and wait until it runs; returns a reader of the
    job's row (each call a fresh read)."""
    started = httpx.post(
        f"{server.base}/api/v1/events/{slug}/solves",
        json={"time_limit_seconds": seconds},
        headers=owner,
        timeout=10,
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]

    def job() -> SolveJob:
        with sessions() as session:
            return session.get_one(SolveJob, job_id)

    wait_for(lambda: job().status == JobStatus.running, "the solve to start", 30, server.log)
    return job


def wait_finished(job: Callable[[], SolveJob], what: str, timeout: float, log: Path) -> SolveJob:
    """The job's row once it succeeded or failed."""
    ended = (JobStatus.succeeded, JobStatus.failed)
    return wait_for(lambda: (j := job()).status in ended and j, what, timeout, log)
