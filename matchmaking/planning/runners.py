"""Which job runner a process uses: the in-process pool, or Celery when a broker is set.

Kept apart from `jobs` (the runners' shared work) and `celery_app` (the Celery runner, which
uses `jobs`), so that neither has to import the other to choose.
"""

from __future__ import annotations

from matchmaking.planning.jobs import InProcessRunner, JobRunner, SessionFactory
from matchmaking.platform.settings import Settings


def make_runner(settings: Settings, session_factory: SessionFactory) -> JobRunner:
    """The runner the settings ask for. Without a broker: the in-process pool."""
    if settings.broker_url:
        from matchmaking.planning.celery_app import CeleryRunner  # Celery is heavy to import

        return CeleryRunner(settings, session_factory)
    return InProcessRunner(
        session_factory,
        threads=settings.runner_threads,
        max_attempts=settings.job_max_attempts,
        mail_settings=settings,
    )
