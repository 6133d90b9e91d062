"""Settings come from MATCHMAKING_* variables and refuse unsafe production defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from matchmaking.platform.settings import Settings


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A developer's .env must not change what these tests see.
    monkeypatch.chdir(tmp_path)
    for name in ("MATCHMAKING_DATABASE_URL", "MATCHMAKING_SECRET_KEY", "MATCHMAKING_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)


def test_default_database_is_a_sqlite_file_in_the_working_directory() -> None:
    assert Settings().database_url == "sqlite:///matchmaking.db"


def test_settings_are_read_from_variables_with_the_matchmaking_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("MATCHMAKING_SOLVE_TIME_LIMIT_SECONDS", "12.5")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///ignored-without-prefix.db")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.solve_time_limit_seconds == 12.5


def test_production_refuses_the_built_in_development_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MATCHMAKING_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="MATCHMAKING_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("MATCHMAKING_SECRET_KEY", "a-long-random-value-from-the-vault")
    assert Settings().environment == "production"


def test_out_of_range_solver_default_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHMAKING_SOLVE_WORKERS", "0")
    with pytest.raises(ValidationError, match="solve_workers"):
        Settings()


def test_every_setting_is_documented_in_the_configuration_guide() -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    missing = [
        name for name in Settings.model_fields if f"`MATCHMAKING_{name.upper()}`" not in guide
    ]
    assert missing == [], f"add these settings to docs/configuration.md: {missing}"
