"""The static checks as part of the suite: `ruff check .` (the rules selected in pyproject.toml)
and `mypy` (strict, with the pydantic plugin, on matchmaking, solver and api) must report
nothing, so `python3 run.py test` (and so CI) fails on a finding and shows it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: mypy's cache lives inside the virtual environment: never in the tree, kept between runs
#: (a warm run takes seconds, a cold one about half a minute).
MYPY_CACHE = Path(sys.prefix) / ".mypy_cache"


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, f"ruff check . found:\n{result.stdout}{result.stderr}"


@pytest.mark.slow
def test_mypy_strict_finds_nothing() -> None:
    result = _run("mypy", "--cache-dir", str(MYPY_CACHE))
    assert result.returncode == 0, f"mypy found:\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout
