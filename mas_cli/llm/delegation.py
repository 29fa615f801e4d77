"""The built-in `delegate` tool of hierarchical crews, and how a manager's task list is written.

The engine writes the task list into the manager's prompt with `task_line`; the offline model
reads it back with `parse_task_lines` to delegate each task once, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mas_cli.llm.types import ToolSchema

DELEGATE = "delegate"
_LINE = re.compile(r"^- \[(?P<task>[^\]]+)\] \(agent: (?P<agent>[^)]*)\) (?P<instruction>.*)$")


@dataclass(frozen=True)
class TaskLine:
    """One task in a manager's prompt: its id, the agent suggested for it, what to do."""

    task: str
    agent: str
    instruction: str


def delegate_tool(workers: list[str], tasks: list[str] | None = None) -> ToolSchema:
    """The delegate tool, its `agent` an enum of the workers this agent may use; `task`, when
    given, names the crew task the work is for, so logs and reports keep the user's names."""
    return ToolSchema(
        name=DELEGATE,
        description="Hand a piece of work to another agent; returns that agent's answer.",
        parameters={
            "type": "object",
            "properties": {
                "agent": {"type": "string", "enum": workers, "description": "Who does the work"},
                "instruction": {"type": "string", "description": "What to do, self-contained"},
                "task": {
                    "type": "string",
                    **({"enum": tasks} if tasks else {}),
                    "description": "The id of the task in your list this work is for",
                },
            },
            "required": ["agent", "instruction"],
            "additionalProperties": False,
        },
    )


def task_line(line: TaskLine) -> str:
    """`- [research] (agent: researcher) Research the topic.` on one line."""
    return f"- [{line.task}] (agent: {line.agent}) {' '.join(line.instruction.split())}"


def parse_task_lines(prompt: str) -> list[TaskLine]:
    """The task lines of a manager prompt, in order."""
    found = (_LINE.match(line) for line in prompt.splitlines())
    return [TaskLine(m["task"], m["agent"], m["instruction"]) for m in found if m]
