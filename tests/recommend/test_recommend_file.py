"""`matchmaking recommend-file`: the recommendations document of a bundle (no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from matchmaking.commands.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "bundle" / "example-bundle.json"

runner = CliRunner()


def _bundle(cross_delegation_only: bool = False) -> dict[str, Any]:
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    document["event"]["rules"]["cross_delegation_only"] = cross_delegation_only
    document["organisations"] = [
        {"id": "o1", "name": "Nordic Energy", "kind": "cluster", "delegation": "EU",
         "seeks": ["partners for battery recycling"], "offers": ["smart grid software"]},
        {"id": "o2", "name": "Recyclo", "kind": "company", "delegation": "Canada",
         "offers": ["battery recycling services"], "seeks": ["smart grids"]},
        {"id": "o3", "name": "Iberia Batteries", "kind": "company", "delegation": "EU",
         "offers": ["recycling of used batteries"]},
    ]  # fmt: skip
    document["participants"] = [
        {"id": "p1", "name": "Ann Berg", "organisation": "o1"},
        {"id": "p2", "name": "Bea Roy", "organisation": "o2"},
        {"id": "p3", "name": "Cid Mora", "organisation": "o3"},
        {"id": "p4", "name": "Dan Lee", "organisation": "o3"},
    ]
    document["wishes"] = [{"id": "w1", "from": "p4", "to": "p2", "status": "declined"}]
    return document


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_recommend_file_writes_the_contract_document(tmp_path: Path) -> None:
    out = tmp_path / "recommendations.json"

    result = runner.invoke(
        app, ["recommend-file", str(_write(tmp_path, _bundle())), "-o", str(out)]
    )

    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["format"] == "matchmaking-recommendations/1"
    assert document["event"] == "eu-canada-2024"
    assert [r["participant"] for r in document["recommendations"]] == ["p1", "p2", "p3", "p4"]
    first = document["recommendations"][0]["suggestions"]
    assert [s["participant"] for s in first] == ["p2", "p3", "p4"]
    assert first[0]["reasons"][0].startswith("offers battery recycling services, which you seek")
    assert all(s["reasons"] and 0 < s["score"] <= 1 for s in first)
    by_participant = {r["participant"]: r["suggestions"] for r in document["recommendations"]}
    # A declined wish still excludes the pair, in both directions; colleagues never.
    assert "p2" not in [s["participant"] for s in by_participant["p4"]]
    assert "p4" not in [s["participant"] for s in by_participant["p2"]]
    assert "p4" not in [s["participant"] for s in by_participant["p3"]]
    assert "for 4 participants" in result.stderr
    # One process (the default) or two: the same document.
    alone = runner.invoke(
        app, ["recommend-file", str(_write(tmp_path, _bundle())), "--workers", "2"]
    )
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout) == document


def test_recommend_file_honours_cross_delegation_only_and_top(tmp_path: Path) -> None:
    path = _write(tmp_path, _bundle(cross_delegation_only=True))

    result = runner.invoke(app, ["recommend-file", str(path), "--top", "1"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    by_participant = {r["participant"]: r["suggestions"] for r in document["recommendations"]}
    assert [s["participant"] for s in by_participant["p1"]] == ["p2"]
    # p3 complements only p1, of its own delegation; its colleague p4 wished p2.
    assert by_participant["p3"] == [
        {"participant": "p2", "score": by_participant["p3"][0]["score"],
         "reasons": ["a colleague of yours asked to meet Recyclo"]}
    ]  # fmt: skip
    assert all(len(s) <= 1 for s in by_participant.values())


def test_recommend_file_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    broken = _bundle()
    broken["participants"][0]["organisation"] = "o9"
    out = tmp_path / "out.json"

    invalid = runner.invoke(app, ["recommend-file", str(_write(tmp_path, broken)), "-o", str(out)])
    bad_top = runner.invoke(app, ["recommend-file", str(EXAMPLE), "--top", "0"])
    missing_folder = runner.invoke(
        app, ["recommend-file", str(EXAMPLE), "-o", str(tmp_path / "no" / "out.json")]
    )

    assert invalid.exit_code == 2
    assert "is not a valid bundle" in invalid.stderr
    assert "/participants/0/organisation" in (invalid.stderr)
    assert not out.exists()
    assert bad_top.exit_code == 2
    assert missing_folder.exit_code == 2
    assert "does not exist" in missing_folder.stderr
