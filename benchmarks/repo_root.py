"""The repository's root, put on `sys.path` for the benchmark scripts.

A script started as `python benchmarks/X.py` has its own folder on the path, not the
repository, so it imports `REPO` from here first and the project's packages (`matchmaking`,
`solver`, `api`, `benchmarks.load`) after it.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
