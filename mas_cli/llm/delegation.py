"""The built-in `delegate` tool of hierarchical crews, and how a manager's task list is written.

The engine writes the task list into the manager's prompt with `task_line`, for the model to
read, and passes the same list as data (`Request.plan`), which the offline model follows.
"""

from __future__ import annotations

from mas_cli.llm.types import Assignment, ToolSchema

DELEGATE = "delegate"


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


def task_line(line: Assignment) -> str:
    """`- [research] (agent: researcher) Research the topic.` on one line."""
    return f"- [{line.task}] (agent: {line.agent}) {' '.join(line.instruction.split())}"
