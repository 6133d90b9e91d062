#!/usr/bin/env python3
"""Idempotent set-up of what the test suite needs from the machine (run.py calls it).

- Chromium for the browser tests: the Debian `chromium` and `chromium-driver` packages are
  installed with apt-get when /usr/bin/chromium is missing and we are root. Playwright never
  downloads a browser of its own. Without chromium the browser tests are skipped with the
  reason on a developer machine; in CI (CI=true) this step fails instead, so CI can never
  pass without running them.
- ical.js for the calendar tests (tests/calendars/test_three_parsers.py): Node.js and npm are
  installed with apt-get (Debian `nodejs`, `npm`) when missing and we are root, then
  `npm ci` installs the versions locked in tests/calendars/js/package-lock.json when they are
  not there yet (or the lock file changed since). Without node those tests are skipped with
  the reason on a developer machine; in CI this step fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
APT_PACKAGES = ["chromium", "chromium-driver"]
#: The npm project of the JavaScript calendar parser the feed tests use.
CALENDAR_JS = Path(__file__).resolve().parent / "calendars" / "js"
NODE_APT_PACKAGES = ["nodejs", "npm"]


def _say(message: str) -> None:
    print(f"[setup_services] {message}", flush=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _apt_install(packages: list[str], why: str) -> bool:
    """Install Debian packages when we may (root and apt-get); False when we cannot."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        _say(f"{' '.join(packages)} missing and cannot be installed here (needs root and apt-get)")
        return False
    _say(f"installing {' '.join(packages)} with apt-get ({why})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]]
    for step in steps:
        result = subprocess.run(step, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if result.returncode != 0:
            _say(f"{' '.join(step)} failed: {result.stderr.decode(errors='replace')[-800:]}")
            return False
    return True


def ensure_chromium() -> bool:
    """True when /usr/bin/chromium is there (installing it if we may)."""
    if CHROMIUM.exists():
        return True
    return _apt_install(APT_PACKAGES, "browser tests") and CHROMIUM.exists()


def icaljs_missing() -> str | None:
    """Why the JavaScript calendar parser cannot run (None: it can)."""
    if shutil.which("node") is None:
        return "node is not installed"
    installed = CALENDAR_JS / "node_modules" / ".package-lock.json"
    if not (CALENDAR_JS / "node_modules" / "ical.js" / "package.json").exists():
        return "ical.js is not installed (npm ci in tests/calendars/js)"
    if installed.stat().st_mtime < (CALENDAR_JS / "package-lock.json").stat().st_mtime:
        return "tests/calendars/js/package-lock.json changed since npm ci"
    return None


def ensure_icaljs() -> bool:
    """True when node can run ical.js from tests/calendars/js (installing what is missing)."""
    no_node = shutil.which("node") is None or shutil.which("npm") is None
    if no_node and not _apt_install(NODE_APT_PACKAGES, "calendar tests with ical.js"):
        return False
    if icaljs_missing() is None:
        return True
    _say("installing ical.js with npm ci in tests/calendars/js (calendar tests)")
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=CALENDAR_JS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if result.returncode != 0:
        _say(f"npm ci failed: {result.stderr.decode(errors='replace')[-800:]}")
        return False
    return icaljs_missing() is None


def main() -> int:
    if not ensure_chromium():
        if _in_ci():
            _say("CI needs chromium for the browser tests; failing")
            return 1
        _say("browser tests will be skipped")
    if not ensure_icaljs():
        if _in_ci():
            _say("CI needs node and ical.js for the calendar tests; failing")
            return 1
        _say("the ical.js calendar tests will be skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
