"""Issue 14: `validate` runs no code, exec-like callables are refused as tools, a dry run
runs only deterministic tools, and argument values never become a command's options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()


def _tool_crew(tmp_path: Path, tools: str, **files: str) -> Path:
    return write_crew(
        tmp_path,
        f"""
        name: t
        models:
          m: offline
        tools:
        {tools}
        agents:
          a: {{role: r, goal: g, model: m}}
        tasks:
          - {{id: t1, agent: a, prompt: "Go."}}
        """,
        **files,
    )


def test_validate_finds_a_package_function_without_importing_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    pkg = tmp_path / "site" / "trapdoor"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (pkg / "tools.py").write_text("def lookup(q: str) -> str:\n    return q\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    good = _tool_crew(tmp_path / "a", "  look: {function: trapdoor.tools:lookup}")
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    bad = _tool_crew(tmp_path / "b", "  look: {function: trapdoor.tools:lokup}")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "trapdoor.tools has no function 'lokup' (did you mean 'lookup'?)" in result.stderr
    missing = _tool_crew(tmp_path / "c", "  look: {function: trapdoor.nope:lookup}")
    assert (
        "module 'trapdoor.nope' cannot be found"
        in runner.invoke(app, ["validate", str(missing)]).stderr
    )
    assert not marker.exists()  # trapdoor/__init__.py never ran


@pytest.mark.parametrize(
    "ref",
    ["subprocess:getoutput", "subprocess:run", "os:system", "os:execvp", "os:popen",
     "builtins:eval", "builtins:exec", "shutil:rmtree", "importlib:import_module", "pty:spawn"],
)  # fmt: skip
def test_an_exec_like_stdlib_callable_is_refused_as_a_tool(tmp_path: Path, ref: str) -> None:
    crew = _tool_crew(tmp_path, f"  sh: {{function: '{ref}'}}")
    for command in ("validate", "run"):
        result = runner.invoke(app, [command, str(crew)])
        assert result.exit_code == 2
        assert f"tools.sh.function: '{ref}' runs commands or code chosen by the model" in (
            result.stderr
        )
        assert "wrap what the agent needs in a function of your own" in result.stderr


def test_a_harmless_stdlib_callable_is_still_a_tool(tmp_path: Path) -> None:
    crew = _tool_crew(tmp_path, "  sq: {function: 'math:sqrt', parameters: {x: {type: number}}}")
    assert runner.invoke(app, ["validate", str(crew)]).exit_code == 0


MARK = """
from pathlib import Path

def touch(name: str) -> str:
    Path(__file__).with_name(name).write_text("ran")
    return "done " + name
"""


def test_estimate_runs_only_deterministic_tools(tmp_path: Path) -> None:
    kinds = ("deterministic", "live", "side_effect")
    tools = {k: {"function": "tools.py:touch", "kind": k} for k in kinds}
    calls = [{"name": k, "arguments": {"name": k}} for k in kinds]
    agent = {"role": "r", "goal": "g", "model": "m", "tools": list(kinds),
             "script": [{"tool_calls": calls}, {"text": "ok"}]}  # fmt: skip
    crew = write_crew(
        tmp_path,
        f"""
        name: t
        models: {{m: "openai:gpt-4o-mini"}}
        tools: {json.dumps(tools)}
        agents: {{a: {json.dumps(agent)}}}
        tasks: [{{id: t1, agent: a, prompt: "Go."}}]
        """,
        tools__py=MARK,
    )
    result = runner.invoke(app, ["run", str(crew), "--estimate"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "deterministic").exists()
    assert not (tmp_path / "live").exists()
    assert not (tmp_path / "side_effect").exists()
    assert (
        "! tools not run in a dry run (placeholder answers): live (live), side_effect (side_effect)"
        in result.stdout
    )
    result = runner.invoke(app, ["run", str(crew), "--estimate", "--json"])
    assert json.loads(result.stdout)["tools_not_run"] == {
        "live": "live",
        "side_effect": "side_effect",
    }


ECHO = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"


def _argv_tool(tmp_path: Path, argv: list[str], args: dict[str, Any]) -> Any:
    params = {"q": {"type": "string"}, "n": {"type": "integer"}}
    tool = json.dumps({"command": ["python", "echo.py", *argv], "parameters": params})
    crew = _tool_crew(tmp_path, f"  echo: {tool}", echo__py=ECHO)
    return runner.invoke(
        app, ["tool-test", "echo", "--crew", str(crew), "--args", json.dumps(args), "--json"]
    )


@pytest.mark.parametrize("value", ["-rf", "--output=/etc/passwd", "-"])
def test_a_value_starting_with_a_dash_never_becomes_an_option(tmp_path: Path, value: str) -> None:
    result = _argv_tool(tmp_path, ["{q}"], {"q": value, "n": 1})
    assert result.exit_code == 1
    assert "{q} is" in result.stdout
    assert "which the program would read as an option" in result.stdout


@pytest.mark.parametrize(
    ("argv", "args", "seen"),
    [
        (
            ["--query={q}"],
            {"q": "-rf", "n": 1},
            ["--query=-rf"],
        ),  # embedded: a value, not an option
        (["--", "{q}"], {"q": "-rf", "n": 1}, ["--", "-rf"]),  # after --, options have ended
        (["--limit", "{n}"], {"q": "x", "n": -5}, ["--limit", "-5"]),  # a number
    ],
)
def test_safe_placements_of_a_dash_value_run(
    tmp_path: Path, argv: list[str], args: dict[str, Any], seen: list[str]
) -> None:
    result = _argv_tool(tmp_path, argv, args)
    assert result.exit_code == 0, result.output
    assert json.dumps(seen) in result.stdout.replace("\\", "")


def test_a_nul_byte_in_a_command_argument_is_a_tool_error(tmp_path: Path) -> None:
    result = _argv_tool(tmp_path, ["--q", "{q}"], {"q": "a\x00b", "n": 1})
    assert result.exit_code == 1
    assert "would hold a NUL byte, which no command argument can" in result.stdout
    assert "internal error" not in result.output


def test_an_exec_like_callable_imported_into_a_tools_file_is_refused(tmp_path: Path) -> None:
    crew = _tool_crew(tmp_path, "  sh: {function: 'tools.py:run'}",
                      tools__py="from subprocess import getoutput as run\n")  # fmt: skip
    result = runner.invoke(app, ["validate", str(crew)])
    assert result.exit_code == 2
    assert "tools.py:run is subprocess.getoutput, which runs commands or code chosen" in (
        result.stderr
    )


# README: a standard-library callable that "deletes files" is refused as a tool; os.remove and
# os.unlink (and os.rmdir, os.replace over a file, ...) were let through.
@pytest.mark.parametrize(
    "ref",
    ["os:remove", "os:unlink", "os:rmdir", "os:removedirs", "os:truncate", "os:replace",
     "os:rename", "posix:unlink", "posix:remove"],
)  # fmt: skip
def test_a_stdlib_callable_that_deletes_files_is_refused_as_a_tool(
    tmp_path: Path, ref: str
) -> None:
    crew = _tool_crew(tmp_path, f"  rm: {{function: '{ref}'}}")
    result = runner.invoke(app, ["validate", str(crew)])
    assert result.exit_code == 2, result.output
    assert f"tools.rm.function: '{ref}' runs commands or code chosen by the model, or deletes" in (
        result.stderr
    )
    module, func = ref.split(":")
    imported = _tool_crew(tmp_path / "f", "  rm: {function: 'tools.py:gone'}",
                          tools__py=f"from {module} import {func} as gone\n")  # fmt: skip
    result = runner.invoke(app, ["validate", str(imported)])
    assert result.exit_code == 2, result.output
    assert f"tools.py:gone is {module}.{func}, which runs commands" in result.stderr
