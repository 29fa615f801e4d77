"""A one-task crew pointed at a real server, run in-process, its events read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crewkit import events, of_type, run

from mas_cli.engine.outcomes import RunResult

DECISION = {
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {"type": "string", "enum": ["approve", "review", "block"]},
        "score": {"type": "number"},
    },
}
TOOLS_PY = '''
def lookup(account: str) -> dict:
    """Look an account up."""
    return {"account": account, "risk": "low"}


def flag(urgent: bool) -> str:
    """Flag the account; answers with the account's notes (long)."""
    return f"urgent={urgent} " + "the account notes say nothing new. " * 5
'''


def crew(
    folder: Path,
    model: dict[str, Any],
    *,
    schema: dict[str, Any] | None = DECISION,
    tools: bool | str = False,
    limits: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write the crew: agent `analyst` on model `m`, task `t`, maybe the tool `lookup`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tools.py").write_text(TOOLS_PY, encoding="utf-8")
    task: dict[str, Any] = {"id": "t", "agent": "analyst", "prompt": "Review account a-1."}
    if schema is not None:
        task["output_schema"] = schema
    doc = {
        "name": "real",
        "models": {"m": model},
        "limits": {
            "retry_backoff_s": 0.01,
            "max_retries": 2,
            "llm_timeout_s": 60,
            **(limits or {}),
        },
        "tools": {
            "lookup": {"function": "tools.py:lookup", "kind": "deterministic"},
            "flag": {"function": "tools.py:flag", "kind": "deterministic"},
        },
        "agents": {"analyst": {"role": "Analyst", "model": "m", "tools": _tools(tools)}},
        "tasks": [task],
        **extra,
    }
    path = folder / "crew.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def run_live(path: Path, home: Path) -> tuple[RunResult, list[dict[str, Any]]]:
    """Run against the server; the result and the run's events."""
    result = run(path, home, offline=False)
    return result, events(result)


def calls(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return of_type(items, "llm_call")


def _tools(tools: bool | str) -> list[str]:
    if isinstance(tools, str):
        return [tools]
    return ["lookup"] if tools else []
