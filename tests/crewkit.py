"""Helpers for engine tests: write a crew into a folder, run it, read its log back."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Any

from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.spec.loader import load_crew

VOLATILE = {"ts", "run_id", "trace_id", "span_id", "parent_id", "latency_s", "duration_s", "wait_s"}


# One offline task per item: the smallest crew a batch runs.
ECHO_CREW = """
    name: echo
    inputs:
      item: {description: The item}
    models:
      m: offline
    agents:
      a: {role: Echo, model: m}
    tasks:
      - {id: answer, agent: a, prompt: "Answer {item}."}
"""


def write_crew(folder: Path, crew: str, **files: str) -> Path:
    """Write crew.yaml (dedented) and any other files into folder; return the crew path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(textwrap.dedent(text), encoding="utf-8")
    path = folder / "crew.yaml"
    path.write_text(textwrap.dedent(crew), encoding="utf-8")
    return path


def run(path: Path, home: Path, **options: Any) -> RunResult:
    """Run a crew file to the end, offline unless told otherwise."""
    options.setdefault("offline", True)
    return asyncio.run(run_crew(load_crew(path), RunOptions(home=home, **options)))


def events(result: RunResult) -> list[dict[str, Any]]:
    """Every event of a run, as dicts."""
    lines = (Path(result.run_dir) / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def stable(items: list[dict[str, Any]], *drop: str) -> list[dict[str, Any]]:
    """Events without their volatile fields (ids, times), for exact comparison."""
    gone = VOLATILE | set(drop)
    return [{k: v for k, v in e.items() if k not in gone} for e in items]


def of_type(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events of one type."""
    return [e for e in items if e["type"] == kind]
