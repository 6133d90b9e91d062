"""The README's promises hold: its links lead somewhere, its commands are the ones that run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", "docs/cli.md"]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_relative_link_points_at_a_file_of_the_repository(document: str) -> None:
    path = REPO / document
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    missing = [link for link in local if not (path.parent / link).exists()]
    assert local
    assert missing == []


def test_readme_commands_are_the_ones_run_py_and_ci_run() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "python3 run.py demo" in readme
    assert "python3 run.py test" in readme
    run_py = (REPO / "run.py").read_text(encoding="utf-8")
    assert '{"demo", "test", "setup"}' in run_py
    assert (
        (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("python3 run.py test")
    )
