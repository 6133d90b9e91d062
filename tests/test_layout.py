"""The layout rules of the code, read from the source with `ast`: imports point down
(api → matchmaking → solver) and no modules import each other in a cycle.

Every import counts, at module level and inside functions, except those under
`if TYPE_CHECKING:` (they never run). `from package import name` counts as an import of the
submodule `package.name` when there is one, else of the package.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("matchmaking", "solver", "api")
#: Which top-level packages each package must not import (imports point down).
FORBIDDEN = {"solver": {"matchmaking", "api"}, "matchmaking": {"api"}, "api": set()}


def module_files(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Module name → (file, whether it is a package's `__init__`)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join(parts)] = (path, is_package)
    return found


def _type_checking_nodes(tree: ast.AST) -> set[ast.AST]:
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(ast.walk(child))
    return skipped


def imports_of(module: str, source: str, is_package: bool, known: Iterable[str]) -> dict[str, int]:
    """The known modules that `module` imports, each with the line of its first import."""
    names = set(known)
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(source)
    skipped = _type_checking_nodes(tree)
    found: dict[str, int] = {}

    def resolve(name: str) -> str | None:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(tree):
        if node in skipped:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source_module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source_module = node.module or ""
            for alias in node.names:
                submodule = f"{source_module}.{alias.name}"
                targets.append(submodule if submodule in names else source_module)
        for target in targets:
            resolved = resolve(target)
            if resolved is not None and resolved != module:
                found.setdefault(resolved, node.lineno)
    return found


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    files = module_files(root)
    return {
        module: imports_of(module, path.read_text(encoding="utf-8"), is_package, files)
        for module, (path, is_package) in files.items()
    }


def cycles(graph: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected group."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Tarjan's algorithm, iterative (deep import chains need no recursion limit).
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_a_cycle(graph, set(group)) for group in groups]


def _a_cycle(graph: Mapping[str, Mapping[str, int]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, {})):
                if child == start:
                    return [*paths[node], start]
                if child in group and child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError("a strongly connected group always has a cycle")


def upward_imports(graph: Mapping[str, Mapping[str, int]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        top = module.split(".")[0]
        for target, line in sorted(targets.items()):
            if target.split(".")[0] in FORBIDDEN.get(top, set()):
                found.append(f"{module} (line {line}) imports {target}")
    return found


def _describe(cycle: list[str], graph: Mapping[str, Mapping[str, int]]) -> str:
    steps = [f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle)]
    return " -> ".join([*steps, cycle[-1]])


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(_describe(c, graph) for c in found)


def package_graph(graph: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """The imports between the packages of matchmaking/ (platform, planning, …), each with
    one module-level edge's line; the other top-level packages count as one each."""

    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "matchmaking" and len(parts) > 2 else parts[0]

    found: dict[str, dict[str, int]] = {}
    for module, targets in graph.items():
        for target, line in targets.items():
            if package(module) != package(target) and package(target) != "matchmaking":
                found.setdefault(package(module), {}).setdefault(package(target), line)
    return found


def test_matchmaking_packages_form_layers() -> None:
    """The packages of matchmaking/ do not import each other in a cycle either (so they can
    be drawn as the layers of docs/design.md)."""
    packages = package_graph(import_graph())
    assert not cycles(packages), f"packages in a cycle: {cycles(packages)}"


def test_imports_point_down() -> None:
    found = upward_imports(import_graph())
    assert not found, "imports that point up (api -> matchmaking -> solver):\n" + "\n".join(found)


def test_the_graph_sees_the_project() -> None:
    graph = import_graph()
    assert len(graph) > 50
    assert any(target.startswith("solver") for target in graph["api.app"]) or any(
        target.startswith("matchmaking") for target in graph["api.app"]
    )


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "matchmaking/__init__.py": "",
            "matchmaking/a.py": "from matchmaking.b import thing\n",
            "matchmaking/b.py": "def thing():\n    from matchmaking import c\n",
            "matchmaking/c.py": "from . import a\n",
            "matchmaking/d.py": "import matchmaking.a\n",
            "solver/__init__.py": "",
            "api/__init__.py": "",
        },
    )
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["matchmaking.a", "matchmaking.b", "matchmaking.c", "matchmaking.a"]]
    assert "matchmaking.b (line 2)" in _describe(cycles(graph)[0], graph)


def test_a_cycle_between_packages_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "matchmaking/__init__.py": "",
            "matchmaking/low/__init__.py": "",
            "matchmaking/low/a.py": "from matchmaking.high.b import thing\n",
            "matchmaking/high/__init__.py": "",
            "matchmaking/high/b.py": "thing = 1\n",
            "matchmaking/high/c.py": "from matchmaking.low import a\n",
            "solver/__init__.py": "",
            "api/__init__.py": "",
        },
    )
    graph = import_graph(tmp_path)
    assert cycles(graph) == []
    assert cycles(package_graph(graph)) == [
        ["matchmaking.high", "matchmaking.low", "matchmaking.high"]
    ]


def test_type_checking_imports_and_acyclic_graphs_pass(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "solver/__init__.py": "",
            "solver/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from solver.b import B\n",
            "solver/b.py": "from solver import a\n",
            "matchmaking/__init__.py": "",
            "api/__init__.py": "",
        },
    )
    assert cycles(import_graph(tmp_path)) == []


@pytest.mark.parametrize(
    ("module", "text", "target"),
    [
        ("solver/x.py", "import matchmaking.platform.models\n", "matchmaking.platform.models"),
        ("solver/x.py", "def f():\n    from api import app\n", "api.app"),
        ("matchmaking/x.py", "from api.deps import DbSession\n", "api.deps"),
    ],
)
def test_an_upward_import_is_found(tmp_path: Path, module: str, text: str, target: str) -> None:
    _write(
        tmp_path,
        {
            "solver/__init__.py": "",
            "matchmaking/__init__.py": "",
            "matchmaking/platform/models.py": "",
            "api/__init__.py": "",
            "api/app.py": "",
            "api/deps.py": "",
            module: text,
        },
    )
    found = upward_imports(import_graph(tmp_path))
    assert len(found) == 1
    assert found[0].endswith(f"imports {target}")


def test_the_product_never_imports_the_benchmark_peer() -> None:
    """PySAT is in the `bench` extra only (benchmarks/b2b_maxsat.py): no module of the product
    may import it, or an install without the extra breaks."""
    for module, (path, _) in module_files().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "pysat" for n in names), f"{module} imports {names}"
