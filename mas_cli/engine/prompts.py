"""Prompts: an agent's system prompt; a task's prompt from inputs, task outputs and state."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from typing import Any

from mas_cli.spec.models import AgentSpec, TaskSpec


def system_prompt(agent: AgentSpec, task: TaskSpec) -> str:
    """Role, goal, backstory and instructions; the JSON contract when the task has a schema."""
    parts = [f"You are {agent.role}."]
    parts += [f"Your goal: {agent.goal}"] if agent.goal else []
    parts += [agent.backstory] if agent.backstory else []
    parts += [agent.instructions] if agent.instructions else []
    if task.output_schema is not None:
        schema = json.dumps(task.output_schema, sort_keys=True)
        parts.append(
            f"Answer with one JSON object and nothing else, matching this JSON Schema: {schema}"
        )
    return "\n\n".join(parts)


def task_prompt(task: TaskSpec, values: Mapping[str, Any]) -> str:
    """The task's prompt with `{name}` and `{name.field}` filled in, plus the expected output."""
    text = _Formatter().vformat(task.prompt, (), values)
    if task.expected_output:
        text += f"\n\nExpected output: {task.expected_output}"
    return text


class _Formatter(string.Formatter):
    """`{task.field}` reads a field of a task's structured output; values render as text or JSON."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:  # noqa: ARG002
        root, *path = field_name.split(".")
        value = kwargs[root]
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        return value, root

    def format_field(self, value: Any, format_spec: str) -> str:  # noqa: ARG002
        if isinstance(value, str) or value is None:
            return "" if value is None else value
        return json.dumps(value, ensure_ascii=False)
