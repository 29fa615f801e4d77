"""Helpers of the resume tests: copy the outbox crew, run it as a process and stop it when its
log reaches a given line, resume it through the CLI, and read back what each run spent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mas_cli.cli.app import app

CREW = Path(__file__).parent / "fixtures" / "resume"
TASKS = ("intake", "check", "approve", "notify")


def outbox_crew(folder: Path) -> Path:
    """A fresh copy of the outbox crew (its outbox.jsonl lives beside it); its crew.yaml."""
    shutil.copytree(CREW, folder)
    return folder / "crew.yaml"


@dataclass
class Stopped:
    """A run stopped by a signal once its log reached a line: where it actually stopped."""

    process: subprocess.Popen[str]
    home: Path
    at_line: int
    lines_at_stop: int = -1


def start(crew: Path, home: Path) -> subprocess.Popen[str]:
    """`mas run crew -q` as a process of its own."""
    env = {**os.environ, "MAS_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "run", str(crew), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_at_lines(runs: list[Stopped], sig: int = signal.SIGKILL, timeout_s: float = 120) -> None:
    """Watch every run's events.jsonl; send `sig` to each once its log holds `at_line` lines
    (or it ended by itself). Then wait for each to exit."""
    deadline = time.monotonic() + timeout_s
    waiting = list(runs)
    while waiting and time.monotonic() < deadline:
        for run in list(waiting):
            lines = _lines(run.home)
            if lines >= run.at_line or run.process.poll() is not None:
                if run.process.poll() is None:
                    run.process.send_signal(sig)
                run.lines_at_stop = lines
                waiting.remove(run)
        time.sleep(0.001)
    for run in runs:
        if run.process.poll() is None and run in waiting:
            run.process.kill()
        run.process.communicate(timeout=60)
    assert not waiting, "some runs never reached their line"


def _lines(home: Path) -> int:
    logs = list((home / "runs").glob("*/events.jsonl")) if (home / "runs").is_dir() else []
    if not logs:
        return 0
    with logs[0].open("rb") as handle:
        return sum(1 for line in handle if line.endswith(b"\n"))


def mas(*args: str, home: Path | None = None) -> tuple[int, str, str]:
    """Run a mas command in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(app, [*args, *(["--home", str(home)] if home else [])])
    return result.exit_code, result.stdout, result.stderr


def run_logs(home: Path) -> list[list[dict[str, Any]]]:
    """Every run's events under a home, oldest run first."""
    folders = sorted((home / "runs").iterdir())
    return [events(folder) for folder in folders]


def events(folder: Path) -> list[dict[str, Any]]:
    """A run's events; a line cut by a kill is left out."""
    out = []
    for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def spent(log: list[dict[str, Any]]) -> tuple[int, Decimal]:
    """Model calls made and dollars spent by one run, as its llm_call events say."""
    calls = [e for e in log if e["type"] == "llm_call" and not e.get("replayed")]
    return len(calls), sum((Decimal(str(e["cost_usd"] or 0)) for e in calls), Decimal(0))


def replayed(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The llm_call events answered from a recording."""
    return [e for e in log if e["type"] == "llm_call" and e.get("replayed")]


def ran_tasks(log: list[dict[str, Any]]) -> list[str]:
    """Tasks that ended ok by running in this run (not carried over)."""
    return [
        e["task"]
        for e in log
        if e["type"] == "task_finished" and e["status"] == "ok" and not e.get("carried_from")
    ]


def outbox(crew: Path) -> list[tuple[str, str]]:
    """The messages the side effect sent, in order."""
    box = crew.parent / "outbox.jsonl"
    if not box.exists():
        return []
    rows = [json.loads(line) for line in box.read_text().splitlines()]
    return [(r["to"], r["body"]) for r in rows]
