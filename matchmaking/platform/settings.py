"""All configuration in one pydantic-settings object, read from `MATCHMAKING_*` variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHMAKING_", env_file=".env", extra="ignore")

    #: "development" allows the built-in secret key; "production" refuses unsafe defaults.
    environment: Literal["development", "test", "production"] = "development"
    #: SQLAlchemy URL. SQLite (WAL, foreign keys on) by default; PostgreSQL via psycopg 3:
    #: postgresql+psycopg://user@host/db
    database_url: str = "sqlite:///matchmaking.db"
    #: Connection pool of PostgreSQL (per process).
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout: float = 10.0
    #: Celery broker (Redis or RabbitMQ URL). Unset: solves run in an in-process pool.
    broker_url: str | None = None
    #: Broker queue the solve workers take jobs from.
    solve_queue: str = "solves"
    #: How often each solve worker looks for jobs whose worker died (seconds).
    job_reaper_interval_seconds: float = Field(default=10.0, gt=0)
    #: A job whose worker died this many times is failed instead of queued again.
    job_max_attempts: int = Field(default=3, ge=1)
    #: One access log line per HTTP request (method, route, status, duration, request id).
    log_requests: bool = True
    #: Threads of the in-process solve runner.
    runner_threads: int = 2
    #: A running job whose heartbeat is older than this is taken as dead.
    job_heartbeat_timeout_seconds: float = 60.0
    #: Solver defaults.
    solve_time_limit_seconds: float = Field(default=60.0, gt=0, le=3600)
    solve_workers: int = Field(default=2, ge=1, le=64)
    #: Secret key for CSRF tokens and signed values. Must be set in production.
    secret_key: SecretStr = SecretStr("dev-insecure-secret-key-change-me")
    #: Public base URL used in e-mails and calendar links.
    base_url: str = "http://127.0.0.1:8000"
    #: SMTP server for e-mail; unset: e-mails are written to the log.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    #: SMTPS: TLS from the first byte (usually port 465); not together with STARTTLS.
    smtp_tls: bool = False
    mail_from: str = "matchmaking@localhost"
    #: Mail outbox: attempts before a mail is given up, and the wait after the first failed
    #: attempt (doubled after each further one, at most an hour).
    mail_max_attempts: int = Field(default=8, ge=1)
    mail_retry_seconds: float = Field(default=30.0, gt=0)
    #: Rendered agendas and calendar feeds each API process keeps (least recently used go
    #: first); 0 turns the cache off. A feed is about 5 KB, an agenda 4 KB, at fair size.
    serving_cache_entries: int = Field(default=20_000, ge=0)
    #: Largest request body accepted (bytes); larger ones get 413.
    max_body_bytes: int = 10 * 1024 * 1024
    #: Unknown secrets (tokens, personal links, calendar URLs) one client address may send
    #: per kind within the window before it is answered 429 (against guessing).
    guess_limit_failures: int = Field(default=30, ge=1)
    guess_limit_window_seconds: float = Field(default=60.0, gt=0)
    #: Reverse proxies whose `X-Forwarded-For` is believed, comma-separated addresses or
    #: networks ("127.0.0.1, 10.0.0.0/8"). Empty: the header is ignored and the client is the
    #: connection's peer. Behind them the client is the rightmost untrusted address.
    trusted_proxies: str = ""
    log_json: bool = False
    log_level: str = "INFO"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",")):
            if entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f'"{entry}" is not an IP address or network') from None
        return value

    @model_validator(mode="after")
    def _one_smtp_tls_mode(self) -> Settings:
        if self.smtp_starttls and self.smtp_tls:
            raise ValueError(
                "MATCHMAKING_SMTP_STARTTLS and MATCHMAKING_SMTP_TLS are both set: choose one "
                "(STARTTLS upgrades a plain connection, usually port 587; TLS is SMTPS, port 465)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production_defaults(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value().startswith(
            "dev-insecure"
        ):
            raise ValueError("MATCHMAKING_SECRET_KEY must be set to a random value in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
