"""The task graph: what runs before what, under each process. Pure functions over a crew."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
    """A dependency cycle as a path that ends where it starts, or None. No recursion: a
    chain of thousands of tasks is as deep as it is long."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in deps:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(deps.get(root, [])))]
        while stack:
            node, todo = stack[-1]
            dep = next(todo, None)
            if dep is None:
                state[node] = 2
                stack.pop()
            elif state.get(dep) == 1:
                path = [n for n, _ in stack]
                return [*path[path.index(dep) :], dep]
            elif dep not in state:
                state[dep] = 1
                stack.append((dep, iter(deps.get(dep, []))))
    return None


class Precedence:
    """Whether one task must finish before another, asked only about the tasks in `wanted`.

    Memory is at most one bit per (task, wanted task), never the set of every task above every
    task (quadratic: 16,000 sequential tasks took 5.5 GB). Needs an acyclic graph.
    """

    def __init__(self, deps: dict[str, list[str]], wanted: Iterable[str]) -> None:
        self._deps = deps
        self._bit = {name: i for i, name in enumerate(dict.fromkeys(wanted)) if name in deps}
        self._above: dict[str, int] = {}
        for node in in_order(deps):
            mask = 0
            for dep in deps.get(node, []):
                if dep in self._above:
                    mask |= self._above[dep] | self.bit(dep)
            self._above[node] = mask

    def bit(self, name: str) -> int:
        """The bit of a wanted task (0 for any other)."""
        index = self._bit.get(name)
        return 0 if index is None else 1 << index

    def above(self, node: str) -> int:
        """The wanted tasks that finish before `node` starts, as bits."""
        return self._above.get(node, 0)

    def before(self, first: str, then: str) -> bool:
        """`first` (a wanted task) finishes before `then` starts."""
        return bool(self.above(then) & self.bit(first))

    def upstream(self, node: str) -> set[str]:
        """Every task above `node`, wanted or not: a walk, for the rare message that lists them."""
        found: set[str] = set()
        todo = list(self._deps.get(node, []))
        while todo:
            dep = todo.pop()
            if dep not in found:
                found.add(dep)
                todo += self._deps.get(dep, [])
        return found


class FileOrder:
    """Precedence in a crew that runs tasks in file order: a comparison of positions."""

    def __init__(self, ids: list[str]) -> None:
        self._ids = ids
        self._first: dict[str, int] = {}
        for i, task_id in enumerate(ids):
            self._first.setdefault(task_id, i)

    def before(self, first: str, then: str) -> bool:
        """`first` comes earlier in the file than `then`."""
        return self._first.get(first, len(self._ids)) < self._first.get(then, -1)

    def upstream(self, node: str) -> set[str]:
        """The tasks earlier in the file."""
        return set(self._ids[: self._first.get(node, 0)])


def precedence(crew: CrewSpec, wanted: Iterable[str]) -> Precedence | FileOrder:
    """What runs before what, answerable for the tasks in `wanted` (any task in file order)."""
    if crew.process != "parallel":
        return FileOrder([t.id for t in crew.tasks])
    return Precedence(edges(crew), wanted)


def levels(deps: dict[str, list[str]]) -> dict[str, int]:
    """Each task -> its depth in the graph: 0 waits for nothing, n waits for level n-1."""
    level: dict[str, int] = {}
    for node in in_order(deps):
        level[node] = 1 + max((level[d] for d in deps.get(node, [])), default=-1)
    return {node: level[node] for node in deps}


def in_order(deps: dict[str, list[str]]) -> list[str]:
    """Every task after the tasks it waits for; no recursion, as crews may have thousands."""
    graph = {node: [d for d in deps.get(node, []) if d in deps] for node in deps}
    return list(TopologicalSorter(graph).static_order())
