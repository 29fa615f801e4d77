"""Crews with cacheable tools, written to a temporary folder, for the cache and tool-test tests.

The tools count their own calls in calls.txt beside them, so a test can tell a call that ran
from one the cache answered without looking at any clock.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import yaml
from crewkit import events, of_type
from crewkit import run as run_offline

from mas_cli.spec.loader import load_crew
from mas_cli.tools import Tool, load_tools

ROOT = Path(__file__).resolve().parent.parent

TOOLS_PY = '''
import os
import random
import time
from pathlib import Path

CALLS = Path(__file__).with_name("calls.txt")


def _count(name):
    with CALLS.open("a", encoding="utf-8") as f:
        f.write(name + "\\n")


def lookup(query: str, limit: int = 2, ratio: float = 0.5) -> dict:
    """Look a query up."""
    _count("lookup")
    return {"query": query, "limit": limit, "ratio": ratio, "hits": [query.upper()] * limit}


def fails(query: str) -> str:
    """Always raises."""
    _count("fails")
    return _inner(query)


def _inner(query):
    raise RuntimeError(f"cannot look up {query!r}")


def hangs(query: str = "x") -> str:
    """Never answers in time."""
    _count("hangs")
    time.sleep(60)
    return "late"


def noisy(n: int = 3) -> list:
    """Different every time."""
    _count("noisy")
    return [random.random() for _ in range(n)]


def env_reader(query: str) -> str:
    """Uses a secret to do its work, and never prints it."""
    _count("env_reader")
    return "authorized" if os.environ.get("MAS_TEST_SECRET") else "anonymous"


def long_text(lines: int = 100) -> str:
    """Many lines."""
    _count("long_text")
    return "\\n".join(f"line {i}" for i in range(lines))
'''

DEFAULT_TOOLS: dict[str, Any] = {
    "lookup": {"function": "tools.py:lookup", "kind": "deterministic", "version": "v1"},
    "fails": {"function": "tools.py:fails", "kind": "deterministic"},
    "hangs": {"function": "tools.py:hangs", "kind": "deterministic", "timeout_s": 0.2},
    "noisy": {"function": "tools.py:noisy", "kind": "deterministic"},
    "live_noisy": {"function": "tools.py:noisy", "kind": "live"},
    "effect": {"function": "tools.py:lookup", "kind": "side_effect"},
    "env_reader": {"function": "tools.py:env_reader", "kind": "deterministic"},
    "long_text": {"function": "tools.py:long_text", "kind": "deterministic"},
}


def write_crew(
    folder: Path,
    tools: dict[str, Any] | None = None,
    *,
    script: list[dict[str, Any]] | None = None,
    tools_py: str = TOOLS_PY,
    process: str = "sequential",
    extra_agents: dict[str, Any] | None = None,
    extra_tasks: list[dict[str, Any]] | None = None,
) -> Path:
    """A crew file with these tools (the defaults when None); one offline agent holds them all."""
    tools = DEFAULT_TOOLS if tools is None else tools
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tools.py").write_text(textwrap.dedent(tools_py), encoding="utf-8")
    agent: dict[str, Any] = {"role": "A", "model": "offline", "tools": list(tools)}
    if script is not None:
        agent["script"] = script
    crew = {
        "name": "cache-test",
        "process": process,
        "tools": tools,
        "agents": {"a": agent, **(extra_agents or {})},
        "tasks": [{"id": "t", "agent": "a", "prompt": "Go."}, *(extra_tasks or [])],
    }
    path = folder / "crew.yaml"
    path.write_text(yaml.safe_dump(crew, sort_keys=False), encoding="utf-8")
    return path


def tools_of(path: Path) -> dict[str, Tool]:
    """Load a crew's tools with the real loader."""
    return load_tools(load_crew(path))


def calls(folder: Path) -> list[str]:
    """The tool calls that actually ran, in order."""
    path = folder / "calls.txt"
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def run(path: Path, home: Path) -> list[dict[str, Any]]:
    """Run a crew offline in this home; its events as dicts."""
    return events(run_offline(path, home))


def subprocess_env() -> dict[str, str]:
    """The environment for a child `python`, importing this checkout's mas_cli."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


__all__ = [
    "ROOT",
    "TOOLS_PY",
    "calls",
    "of_type",
    "run",
    "subprocess_env",
    "tools_of",
    "write_crew",
]
