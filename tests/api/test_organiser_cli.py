"""`matchmaking organiser …`: how the first organiser exists, and access to CLI-made events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from matchmaking.commands.cli import app as cli_app
from tests.api.conftest import Factory, bearer


def _forget_configuration() -> None:
    from matchmaking.platform.db import get_engine, get_sessionmaker
    from matchmaking.platform.settings import get_settings

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", db_url)
    _forget_configuration()
    yield CliRunner()
    _forget_configuration()


def test_first_organiser_is_created_on_the_command_line_and_its_token_works(
    cli: CliRunner, client: TestClient
) -> None:
    result = cli.invoke(cli_app, ["organiser", "create", "anna@example.org", "--name", "Anna"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("mmo_")
    me = client.get("/api/v1/organisers/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["name"] == "Anna"

    again = cli.invoke(cli_app, ["organiser", "create", "anna@example.org"])
    assert again.exit_code == 2
    assert "exists already" in again.output
    assert "Traceback" not in again.output


def test_grant_gives_an_organiser_a_role_in_an_event(
    cli: CliRunner, client: TestClient, make: Factory
) -> None:
    slug = make.event(make.organiser())
    cli.invoke(cli_app, ["organiser", "create", "ben@example.org"])
    token = cli.invoke(cli_app, ["organiser", "token", "ben@example.org"]).output.strip()
    assert client.get(f"/api/v1/events/{slug}", headers=bearer(token)).status_code == 404
    granted = cli.invoke(
        cli_app, ["organiser", "grant", "ben@example.org", slug, "--role", "staff"]
    )
    assert granted.exit_code == 0, granted.output
    assert client.get(f"/api/v1/events/{slug}", headers=bearer(token)).json()["role"] == "staff"
    unknown = cli.invoke(cli_app, ["organiser", "grant", "ben@example.org", "no-such-event"])
    assert unknown.exit_code == 2
    assert "no event" in unknown.output


@pytest.mark.parametrize("name", ["   ", "\u202e\u202c", "Anna\u2028Berg"])
def test_an_organiser_name_without_a_visible_character_is_refused_on_the_command_line(
    cli: CliRunner, client: TestClient, name: str
) -> None:
    result = cli.invoke(cli_app, ["organiser", "create", "blank@example.org", "--name", name])
    assert result.exit_code == 2
    assert "--name" in result.output
    assert "Traceback" not in result.output
    created = cli.invoke(cli_app, ["organiser", "create", "blank@example.org", "--name", "Bo"])
    assert created.exit_code == 0, created.output
