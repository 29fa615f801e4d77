"""Helpers for the `mas view` tests: runs of every example crew, a hostile run, a batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crewkit import write_crew
from event_models import event

ROOT = Path(__file__).resolve().parent.parent
CREWS = sorted(p.parent.name for p in (ROOT / "crews").glob("*/crew.yaml"))
PAYLOAD = '</script><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def run_crew(crew: Path, home: Path, codes: tuple[int, ...] = (0, 3)) -> Path:
    """Run a crew offline under `home`, in a process of its own (the browser tests' driver
    holds an event loop in this one); the run's folder."""
    cmd = [sys.executable, "-m", "mas_cli", "run", str(crew), "--offline", "--home", str(home)]
    ran = subprocess.run([*cmd, "-q"], capture_output=True, text=True, check=False, timeout=300)
    assert ran.returncode in codes, ran.stderr
    runs = sorted((home / "runs").iterdir())
    return runs[-1]


def example_runs(home: Path) -> dict[str, Path]:
    """One offline run of every crew in crews/, by crew name."""
    return {name: run_crew(ROOT / "crews" / name / "crew.yaml", home) for name in CREWS}


HOSTILE_CREW = f"""
name: hostile
state:
  note: {{type: string}}
  level: {{type: integer}}
tools: {{echo: {{function: echo.py:echo}}}}
agents:
  a:
    role: A
    model: offline
    script:
      - tool_calls: [{{name: echo, arguments: {{text: {json.dumps(PAYLOAD)}}}}}]
      - text: {json.dumps('{"note": ' + json.dumps(PAYLOAD) + ', "level": "high"}')}
    tools: [echo]
tasks:
  - id: t
    agent: a
    prompt: hi
    output_schema:
      type: object
      required: [note, level]
      properties: {{note: {{type: string}}, level: {{type: string}}}}
    writes: [note, level]
"""


def hostile_run(folder: Path, home: Path) -> Path:
    """A real run whose tool arguments, result, model text and state carry PAYLOAD, and whose
    second write (a string for an integer key) is refused."""
    echo = "def echo(text: str) -> str:\n    return 'echo ' + text\n"
    crew = write_crew(folder, HOSTILE_CREW, echo__py=echo)
    return run_crew(crew, home, codes=(1,))  # the refused write fails the task


def hostile_log(folder: Path) -> Path:
    """A handwritten log (through the writer's models) whose every name and message is PAYLOAD."""
    folder.mkdir(parents=True, exist_ok=True)
    base = {"v": 1, "run_id": "r1", "trace_id": "t", "agent": PAYLOAD, "task": PAYLOAD}
    lines = [
        {"type": "run_started", "crew": PAYLOAD, "crew_path": PAYLOAD, "process": PAYLOAD},
        {"type": "task_started", "span_id": "t1"},
        {"type": "llm_call", "provider": PAYLOAD, "model": PAYLOAD, "turn": 1, "cost_usd": 0.1},
        {
            "type": "tool_call",
            "tool": PAYLOAD,
            "args_digest": PAYLOAD,
            "status": "error",
            "error": PAYLOAD,
            "turn": 1,
        },
        {
            "type": "state_write",
            "key": PAYLOAD,
            "value": PAYLOAD,
            "read_version": 0,
            "writer": PAYLOAD,
            "accepted": False,
            "reason": PAYLOAD,
        },
        {
            "type": "limit_hit",
            "kind": PAYLOAD,
            "value": 2,
            "threshold": 1,
            "scope": "run",
            "message": PAYLOAD,
        },
        {"type": "task_finished", "status": "stopped", "reason": PAYLOAD},
        {
            "type": "run_finished",
            "status": "stopped",
            "reason": PAYLOAD,
            "duration_s": 1,
            "llm_calls": 1,
            "tool_calls": 1,
            "input_tokens": 1,
            "output_tokens": 1,
        },
    ]
    log = folder / "events.jsonl"
    with log.open("w", encoding="utf-8") as out:
        for i, line in enumerate(lines):
            kind = str(line.pop("type"))
            fields = {**base, "span_id": f"s{i}", "ts": f"2026-12-06T03:00:0{i}.000000Z", **line}
            made = event(kind, **fields)
            out.write(json.dumps(made) + "\n")
    return log


def write_batch(home: Path, runs: dict[str, Path], batch_id: str = "b-1") -> Path:
    """A batch folder (the batch contract) over these runs, plus one dead item."""
    folder = home / "batches" / batch_id
    folder.mkdir(parents=True)
    (folder / "batch.json").write_text(json.dumps({"crew_path": "crews/x", "status": "finished"}))
    with (folder / "results.jsonl").open("w") as out:
        for key, run in runs.items():
            status = json.loads((run / "output.json").read_text()).get("status", "ok")
            item = {
                "key": key,
                "run_id": run.name,
                "status": status,
                "output": None,
                "cost_usd": 0.001,
                "error": None,
            }
            out.write(json.dumps(item) + "\n")
    dead = {"key": PAYLOAD, "reason": PAYLOAD, "inputs": {}}
    (folder / "dead.jsonl").write_text(json.dumps(dead) + "\n")
    return folder


def long_log(folder: Path, calls: int) -> Path:
    """A handwritten log of one task making `calls` model calls, the last one stopped by a limit."""
    folder.mkdir(parents=True, exist_ok=True)
    base = {"v": 1, "run_id": "long", "trace_id": "t", "agent": "a", "task": "t"}
    log = folder / "events.jsonl"
    with log.open("w", encoding="utf-8") as out:

        def put(n: int, event_type: str, /, **fields: object) -> None:
            ts = f"2026-12-06T03:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}000Z"
            made = event(event_type, **base, span_id=f"s{n}", ts=ts, **fields)
            out.write(json.dumps(made) + "\n")

        put(0, "run_started", crew="long", crew_path="x", process="sequential")
        put(1, "task_started")
        for i in range(calls):
            put(
                2 + i,
                "llm_call",
                provider="p",
                model="m",
                turn=i + 1,
                input_tokens=10 + i,
                cost_usd=0.001,
            )
        put(
            calls + 2,
            "limit_hit",
            kind="max_llm_calls",
            value=calls,
            threshold=calls,
            scope="run",
            message="stopped at the end",
        )
    return log
