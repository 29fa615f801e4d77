"""The task graph: what runs before what, under each process. Pure functions over a crew."""

from __future__ import annotations

from graphlib import TopologicalSorter

from mas_cli.spec.models import CrewSpec


def edges(crew: CrewSpec) -> dict[str, list[str]]:
    """Each task id -> the ids it waits for. In file order (sequential and hierarchical crews)
    a task waits for the one before it, and so, through it, for every earlier task."""
    ids = [t.id for t in crew.tasks]
    if crew.process == "parallel":
        known = set(ids)
        return {t.id: [d for d in t.depends_on if d in known] for t in crew.tasks}
    return {task_id: ids[i - 1 : i] for i, task_id in enumerate(ids)}


def find_cycle(deps: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state and (found := visit(node)):
            return found
    return None


def upstream(deps: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    """Each task -> every task that must finish before it (transitively). Needs an acyclic graph."""
    above: dict[str, frozenset[str]] = {}
    for node in _in_order(deps):
        found: set[str] = set()
        for dep in reversed(deps.get(node, [])):  # latest first: it usually covers the rest
            if dep not in found:
                found.add(dep)
                found |= above[dep]
        above[node] = frozenset(found)
    return {node: above[node] for node in deps}


def levels(deps: dict[str, list[str]]) -> dict[str, int]:
    """Each task -> its depth in the graph: 0 waits for nothing, n waits for level n-1."""
    level: dict[str, int] = {}
    for node in _in_order(deps):
        level[node] = 1 + max((level[d] for d in deps.get(node, [])), default=-1)
    return {node: level[node] for node in deps}


def _in_order(deps: dict[str, list[str]]) -> list[str]:
    """Every task after the tasks it waits for; no recursion, as crews may have thousands."""
    graph = {node: [d for d in deps.get(node, []) if d in deps] for node in deps}
    return list(TopologicalSorter(graph).static_order())
