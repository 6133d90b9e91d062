"""Secrets never reach a log line: tokens in feed URLs, personal links and query strings,
credential headers — in our access log, uvicorn's access logger and any other logger, in
production as in development. Logs are captured from the configured handler itself."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from uvicorn.logging import AccessFormatter

from api.app import create_app
from matchmaking.platform.observability import _SECRET_PATTERNS, configure_logging, redact
from matchmaking.platform.settings import Settings
from tests.api.conftest import Factory, make_settings

PRODUCTION_KEY = "a-production-key-" + "x" * 40


@pytest.fixture
def production_logs(db_url: str) -> Iterator[tuple[TestClient, Factory, io.StringIO]]:
    settings = make_settings(
        db_url, environment="production", secret_key=PRODUCTION_KEY, log_json=True
    )
    app = create_app(settings)
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    with TestClient(app, follow_redirects=False) as client:
        yield client, Factory(app, client), stream
    app.state.engine.dispose()
    configure_logging(make_settings(db_url))


def test_no_secret_of_any_kind_reaches_the_production_log(
    production_logs: tuple[TestClient, Factory, io.StringIO],
) -> None:
    client, make, stream = production_logs
    owner = make.organiser()
    slug = make.open_event(owner)
    person = make.participant(slug)
    links = client.post(f"/api/v1/events/{slug}/me/calendar-links", headers=person["headers"])
    feed = links.json()["url"].removeprefix("http://matchmaking.test")
    personal = person["access_token"]
    organiser = owner["Authorization"].removeprefix("Bearer ")
    assert client.get(feed).status_code == 200
    assert client.get(f"/e/{slug}/login", params={"token": personal}).status_code == 303
    session = client.cookies.get("mm_participant")
    assert client.get(f"/e/{slug}/me").status_code == 200
    client.get(f"/api/v1/events/{slug}?token={personal}&key=k3y-s3cret", headers=owner)
    logging.getLogger("matchmaking.test").warning(
        "request headers %s", {"authorization": f"Bearer {organiser}", "cookie": f"s={session}"}
    )
    logging.getLogger("matchmaking.test").info("went to %s", feed)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "matchmaking.access"]
    assert any("/calendars/participants/mmc_[redacted].ics" in line["message"] for line in access)
    assert any(line.get("path", "").endswith("mmc_[redacted].ics") for line in access)
    text = stream.getvalue()
    secrets = [feed.rsplit("/", 1)[-1].removesuffix(".ics"), personal, organiser, "k3y-s3cret"]
    secrets.append(str(session))
    for secret in secrets:
        assert secret not in text, secret
    assert "[redacted]" in text


def test_uvicorns_access_logger_is_redacted_too(
    production_logs: tuple[TestClient, Factory, io.StringIO],
) -> None:
    _, _, stream = production_logs
    # uvicorn's own access logger, as a server configured with its default logging writes it
    # (its own handler and formatter, which unpacks the record's arguments).
    uvicorn_access = logging.getLogger("uvicorn.access")
    own = io.StringIO()
    handler = logging.StreamHandler(own)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    uvicorn_access.addHandler(handler)
    # A server started earlier in the run may have set the logger's level (uvicorn does).
    was_disabled, uvicorn_access.disabled = uvicorn_access.disabled, False
    was_level = uvicorn_access.level
    uvicorn_access.setLevel(logging.INFO)
    try:
        token = "mmc_" + "A1b2" * 11
        uvicorn_access.info(
            '%s - "%s %s HTTP/%s" %d',
            "203.0.113.9:5000",
            "GET",
            f"/calendars/participants/{token}.ics?token=mmp_{'z' * 43}",
            "1.1",
            200,
        )
    finally:
        uvicorn_access.removeHandler(handler)
        uvicorn_access.disabled = was_disabled
        uvicorn_access.setLevel(was_level)
    assert "calendars/participants/mmc_[redacted].ics?token=[redacted]" in own.getvalue()
    assert token not in own.getvalue()
    assert token not in stream.getvalue()
    assert "z" * 43 not in own.getvalue()


def test_secrets_in_settings_are_secret_strings() -> None:
    settings = Settings(
        database_url="sqlite://",
        secret_key=PRODUCTION_KEY,
        smtp_password="smtp-pa55word",
        environment="production",
    )
    assert isinstance(settings.secret_key, SecretStr)
    assert isinstance(settings.smtp_password, SecretStr)
    shown = repr(settings) + str(settings.model_dump())
    assert PRODUCTION_KEY not in shown
    assert "smtp-pa55word" not in shown
    assert settings.secret_key.get_secret_value() == PRODUCTION_KEY
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(database_url="sqlite://", environment="production")


@pytest.mark.parametrize(
    "text",
    [
        "GET /c/mmc_abcdefgh1234.ics 200",
        "MMC_abcdefgh1234 is not a token (the prefix is lower case)",
        "mmp_short",
        "/login?TOKEN=abc&x=1 and ?Key=zzz#frag",
        'headers: {"X-Participant-Token": "mmp_abcdefghijk", authorization=Bearer xyz}',
        "Cookie: mms_session1234; other=1",
        "POST /api/v1/events/cpu-wishes/me/wishes 201",
        "e-mail 'wish_received' to p1@example.org given up: no SMTP server configured",
        "",
    ],
)
def test_redaction_with_its_quick_check_is_each_pattern_in_turn(text: str) -> None:
    # `redact` skips texts that none of the patterns can match; what it returns must be
    # what substituting every pattern in turn gives.
    expected = text
    for pattern, replacement in _SECRET_PATTERNS:
        expected = pattern.sub(replacement, expected)
    assert redact(text) == expected
