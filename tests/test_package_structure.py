"""The package's shape (issue 29): its import graph has no cycle (imports inside functions and
under ``TYPE_CHECKING`` count), lower rooms never import higher ones, and every source file of
the repository carries the Apache License 2.0 header."""

from __future__ import annotations

import ast
import subprocess
from typing import TYPE_CHECKING

from tests.conftest import REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE = "airflow_mlflow_registry"
#: Rooms, lowest first: a module may import its own room and the rooms before it.
ROOMS = ["utils", "hooks", "webhooks", "plugins", "cli"]
LICENSE_LINE = 'Licensed under the Apache License, Version 2.0 (the "License");'


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """Each package module and the package modules it imports, anywhere in its code."""
    modules = {module_name(p): p for p in (REPO_ROOT / PACKAGE).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def test_the_package_import_graph_has_no_cycle() -> None:
    graph = package_imports()
    # A package's __init__ re-exporting its modules is not a cycle of concepts.
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_lower_rooms_never_import_higher_ones() -> None:
    def room(module: str) -> int | None:
        parts = module.split(".")
        return ROOMS.index(parts[1]) if len(parts) > 1 and parts[1] in ROOMS else None

    wrong = [
        (module, target)
        for module, targets in package_imports().items()
        for target in targets
        if room(module) is not None and room(target) is not None and room(target) > room(module)  # type: ignore[operator]
    ]
    assert not wrong, wrong


def test_every_source_file_carries_the_apache_license_header() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.sh", ".ci/run"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(tracked) > 150
    missing = [
        name for name in tracked if LICENSE_LINE not in (REPO_ROOT / name).read_text()[:1500]
    ]
    assert not missing, missing
