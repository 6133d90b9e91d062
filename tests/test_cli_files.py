"""The file commands of the CLI: convert-dzn, schema, solve-file (no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from matchmaking.bundle.json_schema import bundle_json_schema, schema_text
from matchmaking.bundle.validate import parse_bundle
from matchmaking.commands.cli import app

EXAMPLE = Path(__file__).resolve().parent / "bundle" / "example-bundle.json"
UDG = Path(__file__).resolve().parents[2] / "shared" / "data" / "b2b-udg"

runner = CliRunner()


def _bundle_file(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_convert_dzn_writes_a_valid_bundle(tmp_path: Path) -> None:
    out = tmp_path / "tic-12.json"
    result = runner.invoke(app, ["convert-dzn", str(UDG / "tic-12.original.dzn"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    bundle = parse_bundle(out.read_bytes())
    assert (len(bundle.participants), len(bundle.wishes)) == (42, 125)


def test_convert_dzn_refuses_an_inconsistent_file_without_traceback(tmp_path: Path) -> None:
    text = (UDG / "tic-12.original.dzn").read_text().replace("nMeetings = 125;", "nMeetings = 124;")
    broken = tmp_path / "broken.dzn"
    broken.write_text(text)
    out = tmp_path / "out.json"

    result = runner.invoke(app, ["convert-dzn", str(broken), "-o", str(out)])

    assert result.exit_code == 2
    assert result.stderr == (
        "error: broken.dzn: nMeetings = 124, but requested lists 125 meetings\n"
    )
    assert not out.exists()


def test_schema_prints_the_bundle_schema() -> None:
    result = runner.invoke(app, ["schema", "bundle"])
    assert result.exit_code == 0
    assert result.stdout == schema_text(bundle_json_schema())


def test_schema_of_an_unknown_format_is_a_usage_error() -> None:
    result = runner.invoke(app, ["schema", "agenda"])
    assert result.exit_code == 2
    assert "agenda" in result.stderr


def test_solve_file_refuses_an_invalid_bundle_listing_every_problem(tmp_path: Path) -> None:
    document = _example()
    document["wishes"][0]["to"] = "p99"
    document["event"]["timezone"] = "Nowhere/Special"

    result = runner.invoke(app, ["solve-file", str(_bundle_file(tmp_path, document))])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[1:] == [
        '  /event/timezone: unknown time zone "Nowhere/Special"; use an IANA name like '
        '"Europe/Berlin"',
        '  /wishes/0/to: unknown participant "p99"',
    ]
    assert "Traceback" not in result.stderr


def test_solve_file_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text("format: yaml?\n")
    result = runner.invoke(app, ["solve-file", str(path)])
    assert result.exit_code == 2
    assert "/: is not valid JSON: Expecting value at line 1 column 1" in result.stderr


def test_solve_file_writes_the_schedule_of_a_solvable_bundle(tmp_path: Path) -> None:
    out = tmp_path / "schedule.json"
    result = runner.invoke(
        app,
        ["solve-file", str(EXAMPLE), "-o", str(out), "--time-limit", "10", "--workers", "1",
         "--deterministic", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    schedule = json.loads(out.read_text(encoding="utf-8"))
    assert (schedule["format"], schedule["event"]) == ("matchmaking-schedule/1", "eu-canada-2024")
    assert schedule["status"] in ("optimal", "feasible")
    # Every accepted wish is in exactly one meeting or in `unscheduled`.
    met = [w for meeting in schedule["meetings"] for w in meeting["wishes"]]
    unmet = [u["wish"] for u in schedule["unscheduled"]]
    assert sorted(met + unmet) == ["w1", "w2"]
    # w2 is required and fixed to s1: p3 meets p1 (the only person of o1) at p1's table.
    assert {"wishes": ["w2"], "slot": "s1", "location": "t1", "participants": ["p3", "p1"],
            "kind": "C2B"} in schedule["meetings"]  # fmt: skip
    assert result.stderr.startswith(schedule["status"])


def test_solve_file_exits_1_for_an_infeasible_event(tmp_path: Path) -> None:
    document = _example()
    # p1 cannot meet in s2, yet the required wish w2 is fixed to it.
    document["wishes"][1]["fixed_slot"] = "s2"
    out = tmp_path / "schedule.json"

    result = runner.invoke(
        app,
        ["solve-file", str(_bundle_file(tmp_path, document)), "-o", str(out),
         "--time-limit", "10", "--workers", "1", "--deterministic"],
    )  # fmt: skip

    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    assert crash is None, f"solve-file crashed: {crash!r}"
    assert result.exit_code == 1, result.stderr
    schedule = json.loads(out.read_text(encoding="utf-8"))
    assert schedule["status"] == "infeasible"
    assert "w2" in [u["wish"] for u in schedule["unscheduled"]]


@pytest.mark.slow
def test_solve_file_solves_a_benchmark_instance_with_progress(tmp_path: Path) -> None:
    bundle = tmp_path / "tic-12.json"
    runner.invoke(app, ["convert-dzn", str(UDG / "tic-12.original.dzn"), "-o", str(bundle)])
    out = tmp_path / "schedule.json"

    result = runner.invoke(
        app,
        ["solve-file", str(bundle), "-o", str(out), "--time-limit", "10", "--workers", "2",
         "--progress"],
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    schedule = json.loads(out.read_text(encoding="utf-8"))
    assert len(schedule["meetings"]) == 125
    assert schedule["unscheduled"] == []
    assert "breaks: best" in result.stderr


def test_solve_file_refuses_an_output_in_a_missing_folder_before_solving(tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "schedule.json"
    result = runner.invoke(app, ["solve-file", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write {out}: the folder")


def test_a_bundle_with_thousands_of_problems_shows_the_first_fifty(tmp_path: Path) -> None:
    document = _example()
    document["wishes"] = [{"id": f"w{i}", "from": "p1", "to": "nobody"} for i in range(400)]

    result = runner.invoke(app, ["solve-file", str(_bundle_file(tmp_path, document))])

    lines = result.stderr.splitlines()
    assert result.exit_code == 2
    assert lines[0].endswith("is not a valid bundle (400 problems):")
    assert lines[1:3] == [
        '  /wishes/0/to: unknown participant "nobody"',
        '  /wishes/1/to: unknown participant "nobody"',
    ]
    assert lines[-1] == "  … and 350 more"
