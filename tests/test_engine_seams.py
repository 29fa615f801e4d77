"""The engine's modules import each other one way: no cycle, even through an import made inside
a function. `mas run --estimate` is one module (engine/estimate.py: the dry-run tools and the
priced dry run) that imports the run; the run takes the dry-run tools as a parameter."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "mas_cli" / "engine"


def _engine_imports() -> dict[str, set[str]]:
    """Each engine module and the engine modules it imports anywhere in its body."""
    graph: dict[str, set[str]] = {}
    for path in ENGINE.glob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        prefix = "mas_cli.engine."
        graph[path.stem] = {n.removeprefix(prefix) for n in names if n.startswith(prefix)}
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle, as the modules along it, or [] when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        for dep in sorted(graph[module]):
            if found := visit(dep, [*path, module]):
                return found
        done.add(module)
        return []

    return next((c for m in sorted(graph) if (c := visit(m, []))), [])


def test_the_engines_modules_import_each_other_without_a_cycle() -> None:
    graph = _engine_imports()
    assert "outcomes" in graph["run"]  # the scan sees the imports
    assert _cycle(graph) == []


def test_the_dry_run_is_one_module_that_the_run_does_not_import() -> None:
    graph = _engine_imports()
    assert "dry_run" not in graph  # dry_run.py and estimate.py served one feature
    assert "run" in graph["estimate"]
    assert "estimate" not in graph["run"]


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert _cycle({"run": {"estimate"}, "estimate": {"run"}}) == ["estimate", "run", "estimate"]
    assert _cycle({"run": set(), "estimate": {"run"}}) == []
