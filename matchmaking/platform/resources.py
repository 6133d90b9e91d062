"""Where the project's non-Python files are: the templates and the database migrations.

In a source checkout (and an editable install) they are the top-level `templates/` and
`migrations/` folders. A wheel (`pip install .`) installs the same folders inside the package,
as `matchmaking/templates` and `matchmaking/migrations` (see `pyproject.toml`), because a
top-level `templates` in site-packages would collide with other distributions.
"""

from __future__ import annotations

from pathlib import Path

import matchmaking

#: The `matchmaking` package folder, wherever in the package this module is.
_PACKAGE = Path(matchmaking.__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder `name` ("templates" or "migrations") of this installation."""
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


TEMPLATES = resource_dir("templates")
MIGRATIONS = resource_dir("migrations")
