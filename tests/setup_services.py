#!/usr/bin/env python3
"""Idempotent set-up of what the test suite needs from the machine (run.py calls it).

- Chromium for the browser tests: the Debian `chromium` and `chromium-driver` packages are
  installed with apt-get when /usr/bin/chromium is missing and we are root. Playwright never
  downloads a browser of its own. Without chromium the browser tests are skipped with the
  reason on a developer machine; in CI (CI=true) this step fails instead, so CI can never
  pass without running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
APT_PACKAGES = ["chromium", "chromium-driver"]


def _say(message: str) -> None:
    print(f"[setup_services] {message}", flush=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def ensure_chromium() -> bool:
    """True when /usr/bin/chromium is there (installing it if we may)."""
    if CHROMIUM.exists():
        return True
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        _say("chromium is missing and cannot be installed here (needs root and apt-get)")
        return False
    _say(f"installing {' '.join(APT_PACKAGES)} with apt-get (browser tests)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *APT_PACKAGES]]
    for step in steps:
        result = subprocess.run(step, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if result.returncode != 0:
            _say(f"{' '.join(step)} failed: {result.stderr.decode(errors='replace')[-800:]}")
            return False
    return CHROMIUM.exists()


def main() -> int:
    if not ensure_chromium():
        if _in_ci():
            _say("CI needs chromium for the browser tests; failing")
            return 1
        _say("browser tests will be skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
