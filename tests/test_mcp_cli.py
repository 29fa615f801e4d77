"""MCP tools through the CLI: validate starts each server, tool-test and cache explain work on
MCP tools, show and triage name them, and Ctrl-C ends the server with its whole tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcpkit import (
    RAW,
    SERVER,
    alive,
    crew_text,
    http_server,
    refusing_server,
    stdio_server,
    write,
)
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "crews" / "docs-desk" / "crew.yaml"
runner = CliRunner()


def test_validate_lists_what_each_server_offers() -> None:
    result = runner.invoke(app, ["validate", str(DOCS)])
    assert result.exit_code == 0, result.stderr
    assert "docs  mcp  deterministic  offers list_docs, read_doc, search_docs" in result.stdout


def test_validate_starts_no_server_that_no_agent_uses(tmp_path: Path) -> None:
    # A run would not start it; validate did (an `npx -y` server: a download, for nothing).
    tools = stdio_server().replace("]}", '], env: {COUNT_STARTS: "1"}}')
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.stderr
    assert not (tmp_path / "c" / "starts.txt").exists()


def test_validate_json_carries_the_offered_tools() -> None:
    result = runner.invoke(app, ["validate", "--json", str(DOCS)])
    (report,) = json.loads(result.stdout)
    (tool,) = report["summary"]["tools"]
    assert tool == {
        "name": "docs",
        "impl": "mcp",
        "kind": "deterministic",
        "offers": ["list_docs", "read_doc", "search_docs"],
    }


def test_validate_names_a_tool_the_server_lacks(tmp_path: Path) -> None:
    tools = stdio_server("include: [echo, ad]\nexamples:\n  - {echo: {txt: hi}}\n")
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[srv]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    problems = [line.split("crew.yaml:", 1)[1] for line in lines if "tools.srv" in line]
    assert problems == [
        "5:21: tools.srv.include[1]: the MCP server srv offers no tool 'ad' (did you mean 'add'?)",
        "7:9: tools.srv.examples[0]: text: required (fix the example)",
    ]


def test_validate_checks_the_static_problems_first(tmp_path: Path) -> None:
    tools = stdio_server("include: [echo]\n")
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[srv.eco]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "agents.worker.tools[0]: 'eco' is not in tools.srv.include (did you mean 'echo'?)" in (
        result.stderr
    )


def test_validate_quotes_the_stderr_of_a_server_that_will_not_start(tmp_path: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, no-start]}}\n"
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[raw]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "tools.raw.mcp: the MCP server did not start" in result.stderr
    assert "fatal: config file /etc/raw.toml is missing" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(("status", "said"), [(401, "HTTP 401 Unauthorized"), (500, "HTTP 500")])
def test_an_http_server_refusing_the_start_is_named_by_its_status(
    tmp_path: Path, status: int, said: str
) -> None:
    # Was "MCPError: Server returned an error response" for both (a wrong token and a broken
    # server alike), with the hint to run a command the entry does not have.
    with refusing_server(status) as url:
        tools = f'srv:\n  mcp: {{url: "{url}"}}\n'
        path = write(tmp_path / "c", crew_text(tools, "- text: done"))
        result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert said in result.stderr
    assert "command" not in result.stderr


def test_a_server_offering_one_tool_name_twice_is_refused(tmp_path: Path) -> None:
    # Was taken as it came: validate listed 'good' and a run called it with the second schema.
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, twice]}}\n"
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[raw]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "it offers two different tools named 'good'" in result.stderr


def test_validate_reports_a_start_timeout(tmp_path: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, silent], start_timeout_s: 1}}\n"
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[raw]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "it did not start within 1s" in result.stderr


def test_validate_reports_a_schema_that_is_not_json_schema(tmp_path: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, bad-schema]}}\n"
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[raw]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "the input schema of 'broken' is not valid JSON Schema" in result.stderr
    assert "'good'" not in result.stderr


def test_validate_reports_an_unset_variable(tmp_path: Path) -> None:
    tools = stdio_server("").replace("]}", '], env: {T: "${NOT_SET_IN_TESTS}"}}')
    path = write(tmp_path / "c", crew_text(tools, "- text: done"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "tools.srv.mcp.env.T: NOT_SET_IN_TESTS is not set" in result.stderr


def test_tool_test_runs_an_mcp_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "c", crew_text(stdio_server("kind: {add: deterministic}\n"), "- text: x"))
    monkeypatch.chdir(tmp_path / "c")
    first = runner.invoke(app, ["tool-test", "srv.add", "--arg", "a=2", "--arg", "b=3"])
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith('srv.add (deterministic) {"a": 2, "b": 3} · key ')
    assert "\n5\n" in first.stdout
    again = runner.invoke(app, ["tool-test", "srv.add", "--arg", "a=2", "--arg", "b=3", "--json"])
    test = json.loads(again.stdout)
    assert test["runs"][0]["cache"] == "hit"
    assert (tmp_path / "c" / "calls.txt").read_text() == "add\n"


def test_tool_test_reports_failures_and_typos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "c", crew_text(stdio_server(), "- text: x"))
    monkeypatch.chdir(tmp_path / "c")
    failed = runner.invoke(app, ["tool-test", "srv.fail", "--arg", "why=nope"])
    assert failed.exit_code == 1
    assert "refused: nope" in failed.stdout
    typo = runner.invoke(app, ["tool-test", "srv.ecko"])
    assert typo.exit_code == 2
    assert "no tool 'srv.ecko' (did you mean 'srv.echo'?)" in typo.stderr


def test_tool_test_all_runs_each_example_on_its_tool() -> None:
    result = runner.invoke(app, ["tool-test", "--all", "--crew", str(DOCS), "--no-cache", "--json"])
    assert result.exit_code == 0, result.stderr
    tests = json.loads(result.stdout)
    assert [(t["tool"], t["example"], t["verdict"]) for t in tests] == [
        ("docs.read_doc", 0, "ok"),
        ("docs.search_docs", 1, "ok"),
    ]
    assert "duplicate charge" in tests[0]["runs"][0]["output"]


def test_cache_explain_and_stats_cover_mcp_tools(tmp_path: Path, clean_env: Path) -> None:
    ran = runner.invoke(app, ["run", str(DOCS), "--offline", "-q"])
    assert ran.exit_code == 0, ran.stderr
    stats = runner.invoke(app, ["cache", "stats", "--json"])
    tools = {t["tool"] for t in json.loads(stats.stdout)["tools"]}
    assert "docs.search_docs" in tools
    explained = runner.invoke(
        app, ["cache", "explain", "docs.read_doc", "--crew", str(DOCS), "--arg", "name=nope.md"]
    )
    assert explained.exit_code == 0, explained.stderr
    assert "docs.read_doc (deterministic)" in explained.stdout


def test_show_and_triage_name_the_server_and_tool(tmp_path: Path, clean_env: Path) -> None:
    same = "- {tool_calls: [{name: srv.echo, arguments: {text: again}}]}\n" * 3 + "- text: done\n"
    path = write(
        tmp_path / "c", crew_text(stdio_server(), same, limits="max_identical_tool_calls: 5")
    )
    assert runner.invoke(app, ["run", str(path), "-q"]).exit_code == 3  # no progress: stopped
    shown = runner.invoke(app, ["show", "--last"], env={"COLUMNS": "200"}).stdout
    assert "tool srv.echo" in shown
    log = next((clean_env / "runs").glob("*/events.jsonl"))
    loops = runner.invoke(app, ["triage", "loops", str(log), "--json"])
    repeated = [f for f in json.loads(loops.stdout)["findings"] if "srv.echo" in json.dumps(f)]
    assert repeated, loops.stdout


SLOW_TURNS = """\
    - tool_calls: [{name: srv.pids}]
    - tool_calls: [{name: srv.slow, arguments: {seconds: 60}}]
    - text: done
"""


def start_with_a_slow_call(tmp_path: Path, home: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """`mas run` in a process of its own, once its server has written its pids (the server, its
    child and grandchild) and a slow call is under way."""
    path = write(tmp_path / "c", crew_text(stdio_server("timeout_s: 120\n"), SLOW_TURNS))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "run", str(path)],
        env={**os.environ, "MAS_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pids_file = tmp_path / "c" / "pids.json"
    deadline = time.monotonic() + 60
    while not pids_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the slow call is in flight
    return proc, pids_file


def still_alive(pids_file: Path) -> list[bool]:
    """Which of the server's processes are alive, after giving them up to 10 s to end."""
    pids = json.loads(pids_file.read_text())
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [alive(p) for p in pids.values()]


def test_ctrl_c_ends_the_server_and_its_tree(tmp_path: Path, clean_env: Path) -> None:
    proc, pids_file = start_with_a_slow_call(tmp_path, clean_env)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert still_alive(pids_file) == [False, False, False]
    assert b"Traceback" not in stderr


def test_a_killed_mas_takes_the_server_tree_with_it(tmp_path: Path, clean_env: Path) -> None:
    proc, pids_file = start_with_a_slow_call(tmp_path, clean_env)
    proc.kill()  # SIGKILL: mas runs no cleanup of its own
    proc.communicate(timeout=30)
    assert still_alive(pids_file) == [False, False, False]


def test_a_server_printing_junk_on_stdout_shows_no_traceback(tmp_path: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, noisy]}}\n  include: [good]\n"
    turns = "- tool_calls: [{name: raw.good, arguments: {x: a}}]\n- text: done\n"
    path = write(tmp_path / "c", crew_text(tools, turns, agent_tools="[raw]"))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "tool raw.good ok" in result.stderr
    assert "Traceback" not in result.stderr
    assert "JSONRPC" not in result.stderr


def test_canaries_in_env_and_header_appear_in_no_output_and_no_file(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_canary, header_canary = "canary-env-0a1b2c3d4e", "canary-hdr-9f8e7d6c5b"
    monkeypatch.setenv("SERVER_SOURCE", env_canary)
    monkeypatch.setenv("WEB_SOURCE", header_canary)
    with http_server(tmp_path / "server", REQUIRE_AUTH=header_canary) as url:
        tools = (
            f'srv:\n  mcp: {{command: [python, {SERVER}], env: {{NOTE: "${{SERVER_SOURCE}}"}}}}\n'
            "  kind: deterministic\n"
            f'web:\n  mcp: {{url: "{url}", headers: {{Authorization: "Bearer ${{WEB_SOURCE}}"}}}}\n'
        )
        turns = "- tool_calls: [{name: srv.environment}, {name: web.headers}]\n- text: done\n"
        path = write(tmp_path / "c", crew_text(tools, turns, agent_tools="[srv, web]"))
        outputs = [runner.invoke(app, ["run", str(path), "--json"])]
        assert outputs[0].exit_code == 0, outputs[0].stderr
        outputs.append(runner.invoke(app, ["validate", str(path)]))
    for argv in (
        ["show", "--last", "--full"],
        ["show", "--last", "--full", "--json"],
        ["cache", "stats"],
    ):
        outputs.append(runner.invoke(app, argv, env={"COLUMNS": "300"}))
    calls = [e for e in _events(clean_env) if e["type"] == "tool_call"]
    assert sorted(c["status"] for c in calls) == ["ok", "ok"]  # the header got through
    for done in outputs:
        for canary in (env_canary, header_canary):
            assert canary not in done.stdout + done.stderr
    for file in (p for p in clean_env.rglob("*") if p.is_file()):
        text = file.read_text(errors="replace")
        assert env_canary not in text, file
        assert header_canary not in text, file


def _events(home: Path) -> list[dict]:
    log = next((home / "runs").glob("*/events.jsonl"))
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_run_exit_codes_for_server_problems(tmp_path: Path) -> None:
    unset = stdio_server("").replace("]}", '], env: {T: "${NOT_SET_IN_TESTS}"}}')
    done = runner.invoke(app, ["run", str(write(tmp_path / "a", crew_text(unset, "- text: x")))])
    assert done.exit_code == 2
    assert "tools.srv.mcp.env.T: NOT_SET_IN_TESTS is not set" in done.stderr
    typo = crew_text(stdio_server(), "- text: x", agent_tools="[srv.ecko]")
    done = runner.invoke(app, ["run", str(write(tmp_path / "b", typo))])
    assert done.exit_code == 1
    assert "tools.srv: the server offers no tool 'ecko' (did you mean 'echo'?)" in done.stderr
    assert "Traceback" not in done.stderr


def test_tool_test_of_a_whole_server_says_to_name_a_tool() -> None:
    result = runner.invoke(app, ["tool-test", "docs", "--crew", str(DOCS)])
    assert result.exit_code == 2
    assert "'docs' is an MCP server, not one tool (name one of its tools: docs.TOOL" in (
        result.stderr
    )


def test_ctrl_c_while_validate_starts_a_server_exits_130(tmp_path: Path) -> None:
    """Ctrl-C while `mas validate` started a server could hang for good: asyncio.run's end
    cancelled every task at once, the MCP SDK's own too, whose shutdown then never ended. Swept
    over the start (loading, spawning the server, its handshake) of a server busy starting."""
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, busy], start_timeout_s: 60}}\n"
    path = write(tmp_path / "c", crew_text(tools, "- text: done", agent_tools="[raw]"))
    for delay in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "mas_cli", "validate", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # 130; now and then (on main too) the process instead dies by the SIGINT after saying
        # "interrupted", an open defect: what this holds is that it ends, and says no traceback
        assert proc.returncode in (130, -signal.SIGINT), (delay, err)
        assert b"interrupted" in err, (delay, err)
        assert b"Traceback" not in err


def test_an_estimate_starts_no_server_and_calls_no_tool(tmp_path: Path) -> None:
    # README: --estimate is a dry run that keeps nothing and calls no provider; it started
    # every MCP server an agent names (an `npx -y` one: a download) and ran its
    # deterministic tools.
    tools = stdio_server("kind: {add: deterministic}\n").replace(
        "]}", '], env: {COUNT_STARTS: "1"}}'
    )
    crew = (
        "name: dry\nmodels: {m: openai:gpt-4o-mini}\ntools:\n"
        + "\n".join(f"  {line}" for line in tools.splitlines())
        + "\nagents:\n  one: {role: Adder, model: m, tools: [srv.add]}\n"
        + "  all: {role: Everything, model: m, tools: [srv]}\n"
        + "tasks:\n  - {id: add, agent: one, prompt: Add.}\n  - {id: rest, agent: all, prompt: Go.}\n"
    )
    path = write(tmp_path / "c", crew)
    result = runner.invoke(app, ["run", str(path), "--estimate"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "c" / "starts.txt").exists()
    assert not (tmp_path / "c" / "calls.txt").exists()
    assert "! MCP servers not started in a dry run" in result.stdout
    assert "dry run: srv (tools answer with placeholders" in result.stdout
    doc = json.loads(runner.invoke(app, ["run", str(path), "--estimate", "--json"]).stdout)
    assert doc["servers_not_started"] == ["srv"]
    assert not (tmp_path / "c" / "starts.txt").exists()
    # What leaves the mark: validate starts the server (as a run does).
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
    assert (tmp_path / "c" / "starts.txt").exists()


def test_validate_reports_an_empty_variable_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMPTY_TOKEN_IN_TESTS", "")
    tools = 'srv:\n  mcp: {url: "http://127.0.0.1:9/mcp", headers: {Authorization: "Bearer ${EMPTY_TOKEN_IN_TESTS}"}}\n'
    path = write(tmp_path / "c", crew_text(tools, "- text: done"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert (
        f"{path}:4:67: tools.srv.mcp.headers.Authorization: EMPTY_TOKEN_IN_TESTS is set but empty"
        in result.stderr
    )
    assert "HTTP" not in result.stderr  # found before any request, not as the server's refusal
