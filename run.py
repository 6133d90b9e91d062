#!/usr/bin/env python3
"""Bootstrap and run: the two commands of the README, with nothing but Python 3.11+ needed.

    python3 run.py demo     # set up, build a realistic event, solve it and serve it
    python3 run.py test     # set up and run the whole test suite

Each call creates `.venv` when it is missing and (re)installs the project into it when
`pyproject.toml` or `requirements.lock` changed since the last install: the dependencies at
the locked versions (hashes checked), then the project. Extra arguments go to the command run
(`python3 run.py test -k solver`, `python3 run.py demo --port 8080`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed-pyproject.sha256"
#: The exact versions (with hashes) the tests passed with; installed before the project.
LOCK = ROOT / "requirements.lock"


def _say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py may be started by an older Python
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        _say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in ("pyproject.toml", LOCK.name):
        if (ROOT / name).exists():
            digest.update((ROOT / name).read_bytes())
    if STAMP.exists() and STAMP.read_text().strip() == digest.hexdigest():
        return
    _say("installing the project and its dependencies (first run takes a few minutes)")
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    if LOCK.exists():
        # Every dependency at the locked version, each file checked against its hash; then the
        # project itself, which adds nothing the lock does not hold.
        subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
        subprocess.run([*pip, "--no-deps", "-e", f"{ROOT}[dev]"], check=True)
    else:
        subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest.hexdigest())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_environment()
    if command == "setup":
        return 0
    if command == "demo":
        return subprocess.call([str(BIN / "matchmaking"), "demo", *rest], cwd=ROOT)
    test_setup = ROOT / "tests" / "setup_services.py"
    if test_setup.exists():
        code = subprocess.call([str(BIN / "python"), str(test_setup)], cwd=ROOT)
        if code:
            return code
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
