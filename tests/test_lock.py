"""The lock file: every dependency pyproject.toml declares is pinned in requirements.lock,
every pin satisfies the declared range, and the environment the tests run in holds exactly
the locked versions (so a fresh machine gets what the tests passed with)."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)\s*(?:;\s*(.*?))?\s*\\?$")


def _pins() -> dict[str, tuple[str, str | None]]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        found = PIN.match(line)
        if found:
            pins[canonicalize_name(found.group(1))] = (found.group(2), found.group(3))
    return pins


def _declared() -> list[Requirement]:
    """The dependencies and the `dev` extra, with the extras `dev` pulls in from the project
    itself (`matchmaking[bench]`) expanded: the lock is made with `--extra dev`."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = [Requirement(r) for r in project["dependencies"]]
    pending, seen = ["dev"], set()
    while pending:
        extra = pending.pop()
        seen.add(extra)
        for requirement in map(Requirement, extras[extra]):
            if canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
                pending += [e for e in requirement.extras if e not in seen]
            else:
                declared.append(requirement)
    return declared


def test_the_benchmark_extra_is_locked_through_dev() -> None:
    names = {canonicalize_name(r.name) for r in _declared()}
    assert "python-sat" in names
    assert "python-sat" in _pins()


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    pins = _pins()
    assert len(pins) > 50
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {requirement.name}=={version}, outside {requirement}"
        )


def test_every_locked_line_carries_a_hash() -> None:
    text = (REPO / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 5)[-1])
    for entry in entries:
        if "==" in entry:
            assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_the_environment_holds_the_locked_versions() -> None:
    from packaging.markers import Marker

    environment = {"python_full_version": sys.version.split()[0]}
    for name, (version, marker) in _pins().items():
        if marker and not Marker(marker).evaluate(environment):
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError as missing:
            raise AssertionError(f"{name} is locked but not installed") from missing
        assert installed == version, f"{name}: installed {installed}, locked {version}"
