"""A function tool that returns what JSON cannot hold (a cycle, a 5,000-digit integer, tuple
keys, an object whose str() raises, nesting past Python's recursion) fails that call, as a
tool error the agent sees; the run goes on and no traceback reaches the user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()
TOOLS = '''
def cycle(q: str):
    """A dict that holds itself."""
    d = {}
    d["d"] = d
    return d

def big(q: str):
    """An integer past 4,300 digits."""
    return 10 ** 5000

def tuple_keys(q: str):
    """A dict keyed by tuples."""
    return {(1, 2): "b"}

def no_str(q: str):
    """An object whose str() raises."""
    class Opaque:
        def __str__(self) -> str:
            raise RuntimeError("no text for this")
    return Opaque()

def deep(q: str):
    """Lists nested 100,000 deep."""
    x = []
    for _ in range(100_000):
        x = [x]
    return x
'''
CASES = {
    "cycle": "ValueError: Circular reference detected",
    "big": "ValueError: Exceeds the limit (4300 digits)",
    "tuple_keys": "TypeError: keys must be str, int, float, bool or None, not tuple",
    "no_str": "RuntimeError: no text for this",
    "deep": "nested too deeply",
}


def _crew(tmp_path: Path, tool: str) -> Path:
    return write_crew(
        tmp_path,
        f"""
        name: t
        models: {{m: offline}}
        tools:
          {tool}: {{function: tools.py:{tool}}}
        agents:
          a: {{role: r, model: m, tools: [{tool}]}}
        tasks:
          - {{id: t1, agent: a, prompt: "Use the tool on q."}}
        """,
        tools__py=TOOLS,
    )


@pytest.mark.parametrize("tool", sorted(CASES))
def test_a_result_json_cannot_hold_fails_the_call_not_the_run(
    tmp_path: Path, clean_env: Path, tool: str
) -> None:
    result = runner.invoke(app, ["run", str(_crew(tmp_path, tool))])
    assert "internal error" not in result.output
    assert result.exit_code == 0, result.output
    says = f"its result cannot be written as JSON ({CASES[tool]}"
    assert f"tool {tool} error: {says}" in result.stderr
    (run,) = (clean_env / "runs").iterdir()
    lines = (run / "events.jsonl").read_text(encoding="utf-8").splitlines()
    [call] = [e for e in map(json.loads, lines) if e["type"] == "tool_call"]
    assert call["status"] == "error"
    assert says in call["error"]


@pytest.mark.parametrize("tool", sorted(CASES))
def test_tool_test_reports_such_a_result_as_the_tools_failure(tmp_path: Path, tool: str) -> None:
    crew = _crew(tmp_path, tool)
    result = runner.invoke(app, ["tool-test", tool, "--crew", str(crew), "--arg", "q=x"])
    assert "internal error" not in result.output
    assert result.exit_code == 1
    assert f"error: its result cannot be written as JSON ({CASES[tool]}" in result.stdout
    assert "return text, numbers, booleans, None, and lists and dicts" in result.stdout


RAISES = '''
import sys

class Quiet(BaseException):
    pass

class NoText(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")

def leaves(q: str):
    """sys.exit(3) from a tool."""
    sys.exit(3)

def interrupts(q: str):
    """KeyboardInterrupt from a tool: not the user's Ctrl-C."""
    raise KeyboardInterrupt

async def interrupts_async(q: str):
    """The same from a coroutine."""
    raise KeyboardInterrupt

def generator_exit(q: str):
    """GeneratorExit."""
    raise GeneratorExit("closed")

def base(q: str):
    """A BaseException of its own."""
    raise Quiet("quiet")

def no_text(q: str):
    """An exception whose str() raises."""
    raise NoText()
'''
RAISED = {
    "leaves": "SystemExit: 3",
    "interrupts": "KeyboardInterrupt",
    "interrupts_async": "KeyboardInterrupt",
    "generator_exit": "GeneratorExit: closed",
    "base": "Quiet: quiet",
    "no_text": "NoText: (its message could not be read: str() raised)",
}


@pytest.mark.parametrize("tool", sorted(RAISED))
def test_a_tool_raising_a_base_exception_fails_its_call_and_the_run_goes_on(
    tmp_path: Path, clean_env: Path, tool: str
) -> None:
    crew = write_crew(
        tmp_path,
        f"""
        name: t
        models: {{m: offline}}
        tools:
          {tool}: {{function: tools.py:{tool}}}
        agents:
          a: {{role: r, model: m, tools: [{tool}]}}
        tasks:
          - {{id: t1, agent: a, prompt: "Use the tool on q."}}
          - {{id: t2, agent: a, prompt: "Then answer."}}
        """,
        tools__py=RAISES,
    )
    result = runner.invoke(app, ["run", str(crew)])
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert result.exit_code == 0, result.output  # not 3 for sys.exit(3), not 130
    assert f"tool {tool} error: {RAISED[tool]}" in result.stderr
    assert "✓ t2 ok" in result.stderr
    tested = runner.invoke(app, ["tool-test", tool, "--crew", str(crew), "--arg", "q=x"])
    assert tested.exit_code == 1
    assert "internal error" not in tested.output


PRINTS = '''
import os
import sys
import threading

def chatty(q: str) -> str:
    """Prints as it works, from its thread and one it starts."""
    print("looking up", q, os.environ["MAS_TEST_KEY"])
    sys.stderr.write("note " + os.environ["MAS_TEST_KEY"] + "\\\\n")
    helper = threading.Thread(target=print, args=("from a helper thread",))
    helper.start()
    helper.join()
    return "found"
'''


def test_what_a_function_tool_prints_stays_out_of_the_crews_output(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(
        tmp_path,
        """
        name: t
        models: {m: offline}
        tools:
          chatty: {function: tools.py:chatty}
        agents:
          a: {role: r, model: m, tools: [chatty]}
        tasks:
          - id: t1
            agent: a
            prompt: "Use the tool on q."
            output_schema: {type: object, properties: {x: {type: string}}}
        """,
        tools__py=PRINTS,
    )
    env = {**os.environ, "MAS_TEST_KEY": "sk-canary-print-0123456789"}
    done = subprocess.run(
        [sys.executable, "-m", "mas_cli", "run", str(crew), "-q"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"x": "Use tool q"}  # only the crew's output
    assert "looking up" in done.stderr
    assert "from a helper thread" in done.stderr
    assert "sk-canary-print" not in done.stdout + done.stderr
