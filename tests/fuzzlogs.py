"""Real logs for the fuzz suites, and the mutations they suffer.

The logs come from running the example crews offline through the CLI; the OTLP and Agents-SDK
exports carry the same calls. A mutation edits one parsed line (deletes a key, puts a hostile
value anywhere in it) or the raw line (cuts it, slips in control characters).
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from triage_logs import agents_span, otlp_line, otlp_span
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CREWS = ("support-ticket", "fraud-review", "hierarchical-report", "runaway-rescoring")
DEEP = "\x00deep\x00"  # stands for a value nested too deeply for json.dumps to build
EXTREMES: list[Any] = [
    10**31, -(10**31), 2**63, 1e308, -1e308, 1e-320, float("inf"), 0, -1, 1.5,
    "", "x" * 2000, "a\x00b", "\ud800", "\udcff\ud83d", "\x1b]52;c;aGk=\x07\x1b[2J", "ключ",
    "2026-13-45T99:99:99Z", "NaN", None, True, [], {}, [1, "a", None], {"\u00e9": {"": []}}, DEEP,
]  # fmt: skip
NUMBERS = [10**31, -(10**31), 1e308, -1e308, float("inf"), float("nan"), 2**63, -1, 0.1]
OK_EXITS = (0, 1, 2, 3)
runner = CliRunner()


def run_examples(home: Path) -> list[Path]:
    """Run each example crew offline into home; the run folders."""
    for name in CREWS:
        crew = ROOT / "crews" / name / "crew.yaml"
        result = runner.invoke(app, ["run", str(crew), "--offline", "--home", str(home), "--quiet"])
        assert result.exit_code in (0, 3), result.output
    return sorted((home / "runs").iterdir())


def events(run_dir: Path) -> list[dict[str, Any]]:
    """A run's events, parsed."""
    text = (run_dir / "events.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def as_otlp(items: list[dict[str, Any]]) -> list[str]:
    """The run's model and tool calls as OTLP file-exporter lines, one span per line."""
    lines = []
    for n, e in enumerate(items):
        attrs: dict[str, Any] = {"gen_ai.agent.name": e.get("agent", ""), "task.name": "t"}
        if e["type"] == "llm_call":
            attrs |= {"gen_ai.operation.name": "chat", "gen_ai.request.model": e["model"]}
            attrs |= {"gen_ai.usage.input_tokens": e.get("input_tokens", 0)}
            attrs |= {"gen_ai.usage.output_tokens": e.get("output_tokens", 0)}
            attrs |= {"gen_ai.usage.cost": float(e.get("cost_usd") or 0.0)}
        elif e["type"] == "tool_call":
            attrs |= {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": e["tool"]}
            attrs |= {"gen_ai.tool.call.arguments": e.get("args_digest", "")}
        else:
            continue
        lines.append(otlp_line(otlp_span(f"{n:016x}", "0" * 16, e["type"], attrs, start=n)))
    return lines


def as_agents(items: list[dict[str, Any]]) -> list[str]:
    """The run's model and tool calls as OpenAI Agents SDK span exports."""
    lines = [json.dumps({"object": "trace", "id": "trace_abc", "workflow_name": "crew"})]
    for n, e in enumerate(items):
        if e["type"] == "llm_call":
            usage = {"input_tokens": e["input_tokens"], "output_tokens": e["output_tokens"]}
            data = {"type": "generation", "model": e["model"], "usage": usage, "output": []}
        elif e["type"] == "tool_call":
            data = {"type": "function", "name": e["tool"], "input": "{}", "output": "ok"}
        else:
            continue
        lines.append(json.dumps(agents_span(f"s{n}", "a1", data, at=n % 60)))
    agent = {"type": "agent", "name": "crew", "handoffs": [], "tools": []}
    return [*lines, json.dumps(agents_span("a1", None, agent, at=59))]


def _slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON value, outermost first."""
    found, stack = [], [value]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node))
        for key in keys:
            found.append((node, key))
            if isinstance(node[key], dict | list):
                stack.append(node[key])
    return found


def _dumps(value: Any, ascii_only: bool) -> str:
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.replace(json.dumps(DEEP), "[" * 3000 + "]" * 3000)


def mutate_line(line: str, rng: random.Random) -> str:
    """One line, changed in one hostile way."""
    how = rng.choice(["value", "delete", "cut", "control", "value", "key", "numbers"])
    if how == "cut":
        return line[: rng.randrange(max(len(line), 1))]
    if how == "control":
        at = rng.randrange(len(line) + 1)
        return line[:at] + rng.choice(["\x00", "\x1b", "\r", "\x7f", "\u2028"]) + line[at:]
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # cut or deepened by an earlier mutation: cut it more
        return line[: len(line) // 2]
    slots = _slots(value) if isinstance(value, dict | list) else []
    if not slots:
        return line
    if how == "numbers":  # every number in the line at once: costs, tokens, times, versions
        for node, key in slots:
            if isinstance(node[key], int | float) and not isinstance(node[key], bool):
                node[key] = rng.choice(NUMBERS)
        return _dumps(value, ascii_only=True)
    node, key = rng.choice(slots)
    if how == "delete":
        del node[key]
    elif how == "key" and isinstance(node, dict):
        node[rng.choice(["\ud800", "ключ", "", "type"])] = node.pop(key)
    else:
        node[key] = copy.deepcopy(rng.choice(EXTREMES))
    return _dumps(value, rng.random() < 0.5)


def mutate_log(lines: list[str], rng: random.Random) -> str:
    """The log with one to three of its lines mutated (maybe the same one twice)."""
    lines = list(lines)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        lines[i] = mutate_line(lines[i], rng)
    return "\n".join(lines) + "\n"


seeds = st.integers(0, 2**32 - 1)
"""Seeds for random.Random: each example's mutations are fixed by its seed, so they replay."""


def write(path: Path, text: str) -> Path:
    """Write text the way a hostile file would hold it: lone surrogates kept as raw bytes."""
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def copy_home(source: Path, target: Path) -> Path:
    """A fresh copy of a home folder, to mutate."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return target


def cli(*args: str) -> Any:
    """Invoke the CLI and assert the boundary held: a documented exit code, no internal error."""
    result = runner.invoke(app, list(args))
    assert result.exit_code in OK_EXITS, (args, result.exit_code, result.output[-2000:])
    assert "internal error" not in result.output, result.output[-2000:]
    assert "Traceback" not in result.output, result.output[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result
