"""An item's output, as results.jsonl records it: what `mas run` prints for the same run, taken
from output.json's document (scrubbed of every known secret), never from the raw outcomes."""

from __future__ import annotations

from typing import Any

from mas_cli.engine.outcomes import RunResult
from mas_cli.spec import graph
from mas_cli.spec.models import MANAGER_TASK, CrewSpec


def item_output(result: RunResult, spec: CrewSpec) -> Any:
    """The answer of the crew's last task (its structured data when it has some); with several
    last tasks (no task depends on them), a {task: answer} object; None when none ended ok."""
    tasks = (result.output or {}).get("tasks") or {}
    finals = _final_tasks(tasks, spec)
    answers = {t: _answer(tasks[t]) for t in finals if tasks[t].get("status") == "ok"}
    if len(finals) == 1:
        return answers.get(finals[0])
    return answers or None


def _final_tasks(tasks: dict[str, Any], spec: CrewSpec) -> list[str]:
    if spec.process == "hierarchical":
        return [MANAGER_TASK] if MANAGER_TASK in tasks else []
    needed = {d for waits in graph.edges(spec).values() for d in waits}
    return [t.id for t in spec.tasks if t.id in tasks and t.id not in needed]


def _answer(task: dict[str, Any]) -> Any:
    return task.get("data") if task.get("data") is not None else task.get("output")
