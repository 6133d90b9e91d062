"""The database commands: clear messages, exit codes 0/1/2, and nothing half-written."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from matchmaking.commands.cli import app
from matchmaking.platform.models import Event, ScheduleVersion

REPO = Path(__file__).resolve().parent.parent


def _head_revision() -> str:
    """The newest Alembic revision of the project (the files, not a number kept here)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(Config(str(REPO / "alembic.ini"))).get_current_head()
    assert head is not None
    return head


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
    """A runner whose commands use the test's database."""
    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", db_url)
    _forget_configuration()
    yield CliRunner()
    _forget_configuration()


def tiny_bundle(slug: str = "tiny-fair") -> dict[str, Any]:
    return {
        "format": "matchmaking-bundle/1",
        "event": {"slug": slug, "name": "Tiny fair", "timezone": "Europe/Berlin"},
        "sessions": [{"id": "am", "name": "Morning", "slots": [
            {"id": "s1", "start": "2024-09-10T09:00", "end": "2024-09-10T09:20"},
            {"id": "s2", "start": "2024-09-10T09:30", "end": "2024-09-10T09:50"},
        ]}],
        "locations": [{"id": "t1", "name": "Table 1", "kind": "table"}],
        "organisations": [
            {"id": "o1", "name": "=cmd|' /C calc'!A0", "kind": "cluster", "country": "DE"},
            {"id": "o2", "name": "Acme", "kind": "company", "country": "CA"},
        ],
        "participants": [
            {"id": "p1", "name": "Ann", "organisation": "o1"},
            {"id": "p2", "name": "Bob", "organisation": "o2"},
        ],
        "wishes": [{"id": "w1", "from": "p1", "to": "p2"}],
    }  # fmt: skip


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def count(db_url: str, model: type) -> int:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return n


def test_db_upgrade_creates_the_schema_in_a_new_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no alembic.ini here: the command must not need one
    _forget_configuration()
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert f"is at revision {_head_revision()} (newest)" in result.output
        again = CliRunner().invoke(app, ["db", "upgrade"])
        assert again.exit_code == 0
        assert count(url, Event) == 0
    finally:
        _forget_configuration()


def test_commands_on_a_database_without_schema_say_to_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    _forget_configuration()
    try:
        result = CliRunner().invoke(app, ["import", str(write(tmp_path / "b.json", tiny_bundle()))])
    finally:
        _forget_configuration()
    assert result.exit_code == 1
    assert "has no schema yet; run `matchmaking db upgrade`" in result.output
    assert "Traceback" not in result.output


def test_import_stores_the_event_and_a_second_import_is_refused(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    bundle = write(tmp_path / "tiny.json", tiny_bundle())
    first = cli.invoke(app, ["import", str(bundle)])
    assert first.exit_code == 0, first.output
    assert 'imported event "tiny-fair": 2 slots, 1 locations, 2 participants, 1 wishes' in (
        first.output
    )
    second = cli.invoke(app, ["import", str(bundle)])
    assert second.exit_code == 2
    assert '/event/slug: an event "tiny-fair" already exists' in second.output
    assert count(db_url, Event) == 1


def test_invalid_bundle_is_refused_with_every_problem_and_nothing_stored(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    document = tiny_bundle()
    document["wishes"].append({"id": "w2", "from": "p1", "to": "p99"})
    document["participants"][1]["organisation"] = "o9"
    result = cli.invoke(app, ["import", str(write(tmp_path / "bad.json", document))])
    assert result.exit_code == 2
    assert '/wishes/1/to: unknown participant "p99"' in result.output
    assert "/participants/1/organisation" in result.output
    assert "Traceback" not in result.output
    assert count(db_url, Event) == 0


def test_export_writes_the_bundle_as_imported_and_csv_tables(
    cli: CliRunner, tmp_path: Path
) -> None:
    from matchmaking.bundle.dump import dump_bundle
    from matchmaking.bundle.validate import parse_bundle

    document = tiny_bundle()
    assert cli.invoke(app, ["import", str(write(tmp_path / "t.json", document))]).exit_code == 0
    out = tmp_path / "out.json"
    result = cli.invoke(app, ["export", "tiny-fair", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == dump_bundle(parse_bundle(document))
    people = cli.invoke(
        app, ["export", "tiny-fair", "--format", "csv", "--content", "participants"]
    )
    assert people.exit_code == 0
    lines = people.stdout.splitlines()
    assert lines[0].startswith("id,name,job_title,organisation")
    # The organisation name starts with "=": a spreadsheet must see text, not a formula.
    assert lines[1].startswith("p1,Ann,,'=cmd|' /C calc'!A0,cluster,DE")
    no_schedule = cli.invoke(app, ["export", "tiny-fair", "--format", "csv"])
    assert no_schedule.exit_code == 2
    assert 'event "tiny-fair" has no schedule yet' in no_schedule.output
    unknown = cli.invoke(app, ["export", "no-such-event"])
    assert unknown.exit_code == 2
    assert "There is no event 'no-such-event'." in unknown.output


def test_solve_stores_a_numbered_version_and_prints_its_summary(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    assert (
        cli.invoke(app, ["import", str(write(tmp_path / "t.json", tiny_bundle()))]).exit_code == 0
    )
    result = cli.invoke(app, ["solve", "tiny-fair", "--time-limit", "10", "--deterministic"])
    assert result.exit_code == 0, result.output
    assert 'event "tiny-fair" version 1: optimal, 1 meetings, 0 accepted wishes unscheduled' in (
        result.output
    )
    timetable = cli.invoke(app, ["export", "tiny-fair", "--format", "csv"])
    assert timetable.stdout.splitlines()[1].startswith("2024-09-10,09:")
    replan = cli.invoke(app, ["solve", "tiny-fair", "--replan"])
    assert replan.exit_code == 2
    assert 'event "tiny-fair" has no published version to re-plan from' in replan.output
    assert count(db_url, ScheduleVersion) == 1
    unknown = cli.invoke(app, ["solve", "nope"])
    assert (unknown.exit_code, "There is no event 'nope'." in unknown.output) == (2, True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_refuses_a_busy_port_before_building_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        database = tmp_path / "demo.db"
        result = CliRunner().invoke(app, ["demo", "--port", str(port), "--database", str(database)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not database.exists()


@pytest.mark.slow
def test_serve_migrates_a_new_database_and_answers_http(tmp_path: Path) -> None:
    port = _free_port()
    database = tmp_path / "served.db"
    env = {**os.environ, "MATCHMAKING_DATABASE_URL": f"sqlite:///{database}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "matchmaking.commands.cli", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.3)
        assert response.status_code == 200
        engine = create_engine(f"sqlite:///{database}")
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                == _head_revision()
            )
        engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)
