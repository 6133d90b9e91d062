"""A wheel (`pip install .`, not editable) carries everything the service needs at run time:
the page and e-mail templates and the database migrations, inside the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_holds_the_templates_and_the_migrations(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes its build/ folder into the tree it builds.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("matchmaking", "solver", "api", "templates", "migrations"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    # setuptools finds every package itself and has nothing to warn about.
    for warning in ("is absent from the `packages` configuration", "as a TOML table"):
        assert warning not in built.stdout + built.stderr, warning
    (wheel,) = tmp_path.glob("matchmaking-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "api/static/style.css",
        "api/static/progress.js",
        "matchmaking/bundle/schemas.py",
    } <= names
    for folder, pattern in (("templates", "*"), ("migrations", "*")):
        expected = {
            f"matchmaking/{folder}/{path.relative_to(ROOT / folder).as_posix()}"
            for path in (ROOT / folder).rglob(pattern)
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert expected, folder
        assert expected <= names, sorted(expected - names)
    # Nothing lands at the top level of site-packages under a generic name.
    assert not any(name.startswith(("templates/", "migrations/")) for name in names)
