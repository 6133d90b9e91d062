"""Which packages the distribution holds (the rest of its configuration is pyproject.toml).

setuptools' `find` with include patterns, so a new subpackage (or a move of modules into
subpackages) is installed without editing a list. The folders of templates and migrations are
installed inside the package as `matchmaking.templates` and `matchmaking.migrations` (see
`[tool.setuptools.package-dir]`); every folder below them is a package of data files.
"""

from setuptools import find_namespace_packages, setup

CODE = find_namespace_packages(
    include=["matchmaking", "matchmaking.*", "solver", "solver.*", "api", "api.*"],
    exclude=["*.__pycache__"],
)
DATA = [
    f"matchmaking.{name}"
    for name in find_namespace_packages(
        include=["templates", "templates.*", "migrations", "migrations.*"],
        exclude=["*.__pycache__"],
    )
]

setup(packages=CODE + DATA)
