"""Risks: a crew that loads, but carries a risk worth a second look (`--strict` fails on them)."""

from __future__ import annotations

from collections.abc import Iterator

from mas_cli.spec import graph
from mas_cli.spec.findings import Finding, did_you_mean
from mas_cli.spec.models import CrewSpec, Limits

ALL_TOOLS_THRESHOLD = 3


def crew_warnings(crew: CrewSpec) -> Iterator[Finding]:
    """Every warning for a crew that passed its checks."""
    yield from _lost_update_risks(crew)
    yield from _agents_with_every_tool(crew)
    yield from _default_limits(crew)
    yield from _unused_prices(crew)


def _lost_update_risks(crew: CrewSpec) -> Iterator[Finding]:
    # Only a parallel crew runs tasks at once, and only tasks writing the same key can lose
    # each other's update. Each writer is compared with the writers of its key before it in
    # the graph's order, as bits; one warning per writer, so the output is linear too.
    if crew.process != "parallel":
        return
    writers = {key: ids for key, ids in _writers(crew).items() if len(ids) > 1}
    deps = graph.edges(crew)
    order = graph.Precedence(deps, (w for ids in writers.values() for w in ids))
    index = {t.id: i for i, t in enumerate(crew.tasks)}
    rank = {node: i for i, node in enumerate(graph.in_order(deps))}
    for key, ids in writers.items():
        yield from _concurrent_writers(key, sorted(ids, key=rank.__getitem__), order, index)


def _concurrent_writers(
    key: str, ids: list[str], order: graph.Precedence, index: dict[str, int]
) -> Iterator[Finding]:
    earlier, by_bit = 0, dict[int, str]()
    for task_id in ids:
        free = earlier & ~order.above(task_id)
        if free:
            other = by_bit[free & -free]
            a, b = sorted((other, task_id), key=index.__getitem__)
            yield _lost_update(key, a, b, index[b])
        earlier |= order.bit(task_id)
        by_bit[order.bit(task_id)] = task_id


def _writers(crew: CrewSpec) -> dict[str, list[str]]:
    writers: dict[str, list[str]] = {}
    for task in crew.tasks:
        for key in sorted(set(task.writes.values())):
            writers.setdefault(key, []).append(task.id)
    return writers


def _lost_update(key: str, a: str, b: str, index: int) -> Finding:
    return Finding(
        ("tasks", index, "writes"),
        f"tasks '{a}' and '{b}' can run at the same time and both write state key '{key}' "
        "(lost-update risk: the later write is rejected as a conflict)",
        f"make '{b}' depend on '{a}', or give each its own key",
        at="key",
        code="lost-update",
    )


def _agents_with_every_tool(crew: CrewSpec) -> Iterator[Finding]:
    if len(crew.tools) <= ALL_TOOLS_THRESHOLD:
        return
    for name, agent in crew.agents.items():
        if set(agent.tools) >= set(crew.tools):
            yield Finding(
                ("agents", name, "tools"),
                f"agent '{name}' holds all {len(crew.tools)} tools of the crew",
                "give each agent only the tools its tasks need; fewer tools, fewer wrong calls",
                at="key",
                code="all-tools",
            )


def _default_limits(crew: CrewSpec) -> Iterator[Finding]:
    unset = [f for f in Limits.BUDGET_FIELDS if f not in crew.limits.model_fields_set]
    if unset:
        applied = ", ".join(f"{f}={getattr(crew.limits, f)}" for f in unset)
        yield Finding(
            ("limits",) if "limits" in crew.model_fields_set else (),
            f"limits left at their defaults: {applied}",
            "set them under limits: to match what this crew should spend",
            at="key",
            code="default-limits",
        )


def _unused_prices(crew: CrewSpec) -> Iterator[Finding]:
    refs = [*crew.models, *(a.model for a in crew.all_agents().values())]
    names = set(crew.models) | {m.model for r in refs if (m := crew.model_for(r)) is not None}
    for key in crew.prices:
        if key not in names:
            yield Finding(
                ("prices", key),
                f"no model of this crew is named '{key}', so this price is never used",
                did_you_mean(key, names) or "key prices by the model's name, e.g. gpt-4o-mini",
                at="key",
            )
