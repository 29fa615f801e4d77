"""MCP tools in a run: against the tests' SDK server over stdio and streamable HTTP, started by
the tests. Calls go through the same checkpoint, cache and scrubbing as every tool call."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest
from crewkit import events, of_type, run
from mcpkit import (
    RAW,
    SERVER,
    alive,
    crew_text,
    files_under,
    free_port,
    http_server,
    refusing_server,
    stdio_server,
    write,
)

from mas_cli.errors import ToolError, UsageError
from mas_cli.tools.mcp.connection import Connection, Launch


def calls_of(result_events: list[dict], tool: str) -> list[dict]:
    return [e for e in of_type(result_events, "tool_call") if e["tool"] == tool]


def test_tools_run_and_the_log_names_server_and_tool(tmp_path: Path, clean_env: Path) -> None:
    turns = """\
        - tool_calls: [{name: srv.echo, arguments: {text: hello}}, {name: srv__add, arguments: {a: 2, b: 3}}]
        - text: done
    """
    result = run(write(tmp_path / "c", crew_text(stdio_server(), turns)), clean_env)
    assert result.status == "ok", result.reason
    calls = of_type(events(result), "tool_call")  # one turn's calls end in any order
    assert sorted((c["tool"], c["server"], c["status"]) for c in calls) == [
        ("srv.add", "srv", "ok"),
        ("srv.echo", "srv", "ok"),
    ]
    assert (tmp_path / "c" / "calls.txt").read_text() == "add\n"


def test_the_model_is_offered_names_its_api_accepts(tmp_path: Path, clean_env: Path) -> None:
    result = run(write(tmp_path / "c", crew_text(stdio_server(), "- text: done")), clean_env)
    lines = (Path(result.run_dir) / "llm.jsonl").read_text().splitlines()
    offered = {t["name"] for t in json.loads(lines[0])["request"]["tools"]}
    assert offered == {"srv__echo", "srv__add", "srv__slow", "srv__fail", "srv__crash",
                       "srv__environment", "srv__headers", "srv__pids", "srv__deliver"}  # fmt: skip


def test_tools_whose_names_differ_only_in_what_an_api_refuses_stay_apart(
    tmp_path: Path, clean_env: Path
) -> None:
    # 读取 and 写入 would both be raw____ once made fit, a/b would be a_b, x.y would be x__y.
    named = ["读取", "写入", "a/b", "a_b", "x.y", "x__y"]
    calls = ", ".join(f"{{name: 'raw.{n}', arguments: {{}}}}" for n in named)
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, names]}}\n"
    text = crew_text(tools, f"- tool_calls: [{calls}]\n- text: done\n", agent_tools="[raw]")
    result = run(write(tmp_path / "c", text), clean_env)
    assert result.status == "ok", result.reason
    called = [c["tool"] for c in of_type(events(result), "tool_call")]
    assert sorted(called) == sorted(f"raw.{n}" for n in named)  # each answered as itself
    lines = (Path(result.run_dir) / "llm.jsonl").read_text().splitlines()
    offered = [t["name"] for t in json.loads(lines[0])["request"]["tools"]]
    assert len(set(offered)) == len(named)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in offered)


def test_include_filters_and_an_agent_may_hold_one_tool(tmp_path: Path, clean_env: Path) -> None:
    tools = stdio_server("include: [echo, add]\n")
    turns = "- tool_calls: [{name: srv.add, arguments: {a: 1, b: 1}}]\n- text: done\n"
    text = crew_text(tools, turns, agent_tools="[srv.echo]")
    result = run(write(tmp_path / "c", text), clean_env)
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "refused"
    assert "the tools you have are: srv__echo" in call["error"]
    assert not (tmp_path / "c" / "calls.txt").exists()


def test_a_failing_tool_is_an_error_the_agent_is_told(tmp_path: Path, clean_env: Path) -> None:
    turns = "- tool_calls: [{name: srv.fail, arguments: {why: no stock}}]\n- text: done\n"
    result = run(write(tmp_path / "c", crew_text(stdio_server(), turns)), clean_env)
    assert result.status == "ok"
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "error"
    assert "refused: no stock" in call["error"]


def test_a_protocol_error_is_a_tool_error_not_a_crash(tmp_path: Path, clean_env: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, protocol]}}\n  include: [good]\n"
    turns = "- tool_calls: [{name: raw.good, arguments: {x: a}}]\n- text: done\n"
    result = run(write(tmp_path / "c", crew_text(tools, turns, agent_tools="[raw]")), clean_env)
    assert result.status == "ok"
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "error"
    assert "internal failure in the raw server" in call["error"]


def test_a_line_that_is_not_utf8_on_stdout_does_not_wedge_the_server(
    tmp_path: Path, clean_env: Path
) -> None:
    # The SDK's strict decoding ended its reader in a drain of everything after such a line
    # (answers included) while the server lived: every call of the run timed out.
    tools = (
        f"raw:\n  mcp: {{command: [python, {RAW}, latin1]}}\n  include: [good]\n  timeout_s: 5\n"
    )
    turns = "- tool_calls: [{name: raw.good, arguments: {x: a}}]\n" * 2 + "- text: done\n"
    result = run(write(tmp_path / "c", crew_text(tools, turns, agent_tools="[raw]")), clean_env)
    assert result.status == "ok", result.reason
    assert [c["status"] for c in of_type(events(result), "tool_call")] == ["ok", "ok"]


def test_a_lone_surrogate_in_a_reply_is_read_not_a_call_that_waits_for_its_timeout(
    tmp_path: Path, clean_env: Path
) -> None:
    # `"\\udcff"` (a Python server's file name with a byte that is not UTF-8) is JSON that the
    # SDK's reader refused: the reply was dropped and the call waited out its timeout_s.
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, surrogate]}}\n  include: [good]\n"
    turns = "- tool_calls: [{name: raw.good, arguments: {x: a}}]\n- text: done\n"
    text = crew_text(tools + "  timeout_s: 5\n", turns, agent_tools="[raw]")
    result = run(write(tmp_path / "c", text), clean_env)
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "ok", call
    assert call["output_bytes"] == len("notes-\ufffd.txt".encode())


def test_a_reply_the_sdk_cannot_read_fails_its_call_with_why(
    tmp_path: Path, clean_env: Path
) -> None:
    # The SDK dropped a reply it refused (`"result": 5`), and the call waited out its timeout_s.
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, bad-reply]}}\n  include: [good]\n"
    turns = "- tool_calls: [{name: raw.good, arguments: {x: a}}]\n- text: done\n"
    text = crew_text(tools + "  timeout_s: 10\n", turns, agent_tools="[raw]")
    result = run(write(tmp_path / "c", text), clean_env)
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "error", call
    assert "the server's reply could not be read" in call["error"]


def test_a_tool_list_nested_too_deep_to_read_says_so_not_a_start_timeout(
    tmp_path: Path, clean_env: Path
) -> None:
    # Nested deeper than the SDK's JSON reader goes, the tools/list reply was dropped and the
    # start waited out start_timeout_s: "it did not start within 10s", not why.
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, deep-schema], start_timeout_s: 10}}\n"
    text = crew_text(tools, "- text: done", agent_tools="[raw]")
    with pytest.raises(ToolError, match="reply could not be read: Invalid JSON: recursion limit"):
        run(write(tmp_path / "c", text), clean_env)


def test_a_tool_list_whose_pages_never_end_says_so(tmp_path: Path, clean_env: Path) -> None:
    # A next cursor the server gave before was asked for again and again until start_timeout_s.
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, cursor-loop], start_timeout_s: 10}}\n"
    text = crew_text(tools, "- text: done", agent_tools="[raw]")
    with pytest.raises(ToolError, match="did not start: its tool list repeats its page 'page-2'"):
        run(write(tmp_path / "c", text), clean_env)


def test_a_server_flooding_stderr_keeps_only_its_last_lines_on_disk(tmp_path: Path) -> None:
    # Its stderr went whole to a temporary file: a server logging without end filled the disk.
    async def flood() -> tuple[int, int, str]:
        argv = (sys.executable, str(RAW), "stderr-flood")
        env = {"PATH": os.environ["PATH"]}
        connection = Connection(Launch("raw", 30, argv, tmp_path, env))
        await connection.start()
        try:
            connection.trim_stderr()
            held = connection._stderr
            assert held is not None
            status = os.fstat(held.fileno())
            return status.st_size, status.st_blocks * 512, connection.why_gone()
        finally:
            await connection.close()

    size, on_disk, told = asyncio.run(flood())
    assert size > 3_000_000
    assert on_disk < 1_000_000
    assert told.endswith("last words")


def test_a_slow_tool_times_out(tmp_path: Path, clean_env: Path) -> None:
    tools = stdio_server("timeout_s: 0.5\n")
    turns = "- tool_calls: [{name: srv.slow, arguments: {seconds: 30}}]\n- text: done\n"
    result = run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "timeout"
    assert call["error"] == "timed out after 0.5s"
    assert call["latency_s"] < 10  # the run did not wait for the 30 s sleep


def test_a_dead_server_is_restarted_once_then_the_task_fails(
    tmp_path: Path, clean_env: Path
) -> None:
    tools = stdio_server("kind: {crash: side_effect}\n")
    turns = """\
        - tool_calls: [{name: srv.crash}]
        - tool_calls: [{name: srv.echo, arguments: {text: still here}}]
        - tool_calls: [{name: srv.crash}]
        - text: not reached
    """
    result = run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)
    calls = of_type(events(result), "tool_call")
    assert [c["status"] for c in calls] == ["error", "ok", "error"]
    assert "may or may not have happened" in calls[0]["error"]  # a side effect is not re-sent
    assert "after one restart" in calls[2]["error"]
    assert result.status == "failed"
    assert result.tasks["work"].status == "failed"
    assert "the MCP server srv is gone" in (result.tasks["work"].reason or "")
    pids = [int(p) for p in (tmp_path / "c" / "crashes.txt").read_text().split()]
    assert len(pids) == 2  # two servers ran: the first and its one restart


def test_a_call_is_made_again_on_the_restarted_server(tmp_path: Path, clean_env: Path) -> None:
    turns = "- tool_calls: [{name: srv.crash}]\n- text: done\n"
    result = run(write(tmp_path / "c", crew_text(stdio_server(), turns)), clean_env)
    (call,) = of_type(events(result), "tool_call")
    # live: made again after the restart, which crashes the restarted server too
    assert "after one restart" in call["error"]
    assert len((tmp_path / "c" / "crashes.txt").read_text().split()) == 2
    assert result.tasks["work"].status == "failed"


def test_max_tool_calls_and_identical_calls_hold(tmp_path: Path, clean_env: Path) -> None:
    same = "- {tool_calls: [{name: srv.echo, arguments: {text: same}}]}\n" * 4
    text = crew_text(stdio_server(), same, limits="max_identical_tool_calls: 2")
    result = run(write(tmp_path / "c", text), clean_env)
    hits = of_type(events(result), "limit_hit")
    assert [h["kind"] for h in hits] == ["max_identical_tool_calls"]
    assert len(calls_of(events(result), "srv.echo")) == 2
    many = "".join(
        f"- {{tool_calls: [{{name: srv.echo, arguments: {{text: t{i}}}}}]}}\n" for i in range(4)
    )
    text = crew_text(stdio_server(), many, limits="max_tool_calls: 3")
    result = run(write(tmp_path / "d", text), clean_env)
    assert [h["kind"] for h in of_type(events(result), "limit_hit")] == ["max_tool_calls"]
    assert len(calls_of(events(result), "srv.echo")) == 3
    assert result.status == "stopped"


def test_deterministic_tools_are_cached_across_runs(tmp_path: Path, clean_env: Path) -> None:
    tools = stdio_server("kind: {add: deterministic}\n")
    turns = "- tool_calls: [{name: srv.add, arguments: {a: 2, b: 2.0}}]\n- text: done\n"
    path = write(tmp_path / "c", crew_text(tools, turns))
    first = calls_of(events(run(path, clean_env)), "srv.add")[0]
    second = calls_of(events(run(path, clean_env)), "srv.add")[0]
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["cache_key"] == second["cache_key"]
    assert (tmp_path / "c" / "calls.txt").read_text() == "add\n"  # ran once


def test_the_cache_key_follows_the_server_and_the_schema(tmp_path: Path, clean_env: Path) -> None:
    tools = stdio_server("kind: deterministic\n")
    turns = "- tool_calls: [{name: srv.add, arguments: {a: 1, b: 2}}]\n- text: done\n"
    key = calls_of(
        events(run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)), "srv.add"
    )
    other = tools.replace("mcp: {command: [python,", "mcp: {cwd: ., command: [python, -X, utf8,")
    moved = calls_of(
        events(run(write(tmp_path / "d", crew_text(other, turns)), clean_env)), "srv.add"
    )
    assert key[0]["cache_key"] != moved[0]["cache_key"]  # another argv is another server
    assert moved[0]["cached"] is False


def test_a_canary_in_the_environment_is_nowhere(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-4f9c1e7a2b"
    monkeypatch.setenv("SERVER_SOURCE", canary)  # a name that does not look secret
    tools = (
        f"srv:\n  mcp: {{command: [python, {SERVER}], "
        'env: {API_PASS: "x-${SERVER_SOURCE}"}}\n  kind: deterministic\n'
    )
    turns = "- tool_calls: [{name: srv.environment}]\n- text: done\n"
    result = run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "ok"
    assert call["cache_key"]  # stored in the cache, scrubbed
    for path in files_under(clean_env):
        assert canary not in path.read_text(errors="replace"), path
    # The server did get it: the scrub, not its absence, kept it out.
    assert '\\"API_PASS\\": \\"***' in (Path(result.run_dir) / "llm.jsonl").read_text()


def test_the_server_gets_the_allow_list_not_mas_environment(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNRELATED_SETTING", "should-not-pass")
    turns = "- tool_calls: [{name: srv.environment}]\n- text: done\n"
    result = run(write(tmp_path / "c", crew_text(stdio_server(), turns)), clean_env)
    llm = (Path(result.run_dir) / "llm.jsonl").read_text()
    assert "should-not-pass" not in llm
    assert "PATH" in llm


def test_an_unset_variable_stops_the_run_before_it_starts(tmp_path: Path, clean_env: Path) -> None:
    tools = stdio_server("").replace("]}", '], env: {T: "${NOT_SET_ANYWHERE}"}}')
    with pytest.raises(UsageError, match=r"tools\.srv\.mcp\.env\.T: NOT_SET_ANYWHERE is not set"):
        run(write(tmp_path / "c", crew_text(tools, "- text: done")), clean_env)
    assert not (clean_env / "runs").exists()


def test_a_named_tool_the_server_lacks_stops_the_run(tmp_path: Path, clean_env: Path) -> None:
    text = crew_text(stdio_server(), "- text: done", agent_tools="[srv.ecko]")
    with pytest.raises(ToolError, match="offers no tool 'ecko'") as caught:
        run(write(tmp_path / "c", text), clean_env)
    assert caught.value.hint == "did you mean 'echo'?"


def test_a_server_that_will_not_start_says_why(tmp_path: Path, clean_env: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, no-start]}}\n"
    text = crew_text(tools, "- text: done", agent_tools="[raw]")
    with pytest.raises(ToolError, match=r"config file /etc/raw\.toml is missing"):
        run(write(tmp_path / "c", text), clean_env)


def test_a_key_cut_by_the_stderr_tail_is_not_quoted_in_part(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tail read back began inside the key: its second half was quoted, unscrubbed.
    token = "tok-" + "8c1f2e7a9b3d" * 3
    monkeypatch.setenv("RAW_TOKEN", token)
    tools = (
        f"raw:\n  mcp: {{command: [python, {RAW}, leak-start], env: {{TOKEN: '${{RAW_TOKEN}}'}}}}\n"
    )
    text = crew_text(tools, "- text: done", agent_tools="[raw]")
    with pytest.raises(ToolError) as stopped:
        run(write(tmp_path / "c", text), clean_env)
    assert "did not start" in str(stopped.value)
    assert token[len(token) // 2 :] not in str(stopped.value)


def test_a_key_cut_by_the_output_cap_or_the_error_line_is_not_kept_in_part(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The result was cut (max_output_bytes; an error's first 500 characters) before the scrub,
    # which then could not know the key's first half at the cut.
    token = "tok-" + "5d0a7c3e1f9b" * 3
    monkeypatch.setenv("RAW_TOKEN", token)
    tools = (
        f"raw:\n  mcp: {{command: [python, {RAW}, echo-token], env: {{TOKEN: '${{RAW_TOKEN}}'}}}}\n  include: [good]\n"
        "  max_output_bytes: 1000\n"
    )
    turns = """\
        - tool_calls: [{name: raw.good, arguments: {pad: 980}}]
        - tool_calls: [{name: raw.good, arguments: {pad: 480, error: true}}]
        - text: done
    """
    text = crew_text(tools, turns, agent_tools="[raw]")
    result = run(write(tmp_path / "c", text), clean_env)
    calls = of_type(events(result), "tool_call")
    assert [c["status"] for c in calls] == ["ok", "error"]
    half = token[: len(token) // 2]
    for path in files_under(clean_env):
        assert half not in path.read_text(errors="replace"), path


def test_a_silent_server_times_out_at_start(tmp_path: Path, clean_env: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, silent], start_timeout_s: 1}}\n"
    text = crew_text(tools, "- text: done", agent_tools="[raw]")
    with pytest.raises(ToolError, match="did not start within 1s"):
        run(write(tmp_path / "c", text), clean_env)
    # Stopped at once (it cannot notice a close in its handshake), and gone with its tree.
    assert not alive(int((tmp_path / "c" / "silent.pid").read_text()))


def test_the_server_and_its_tree_end_with_the_run(tmp_path: Path, clean_env: Path) -> None:
    turns = "- tool_calls: [{name: srv.pids}]\n- text: done\n"
    result = run(write(tmp_path / "c", crew_text(stdio_server(), turns)), clean_env)
    assert result.status == "ok"
    pids = json.loads((tmp_path / "c" / "pids.json").read_text())
    assert pids["child"]  # the server started a process of its own
    assert [alive(pid) for pid in pids.values()] == [False, False, False]


def test_streamable_http_with_a_header_from_the_environment(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-http-93be01d4"
    monkeypatch.setenv("SEARCH_TOKEN", canary)
    with http_server(tmp_path / "server", REQUIRE_AUTH=canary) as url:
        tools = f'srv:\n  mcp: {{url: "{url}", headers: {{Authorization: "Bearer ${{SEARCH_TOKEN}}"}}}}\n'
        turns = """\
            - tool_calls: [{name: srv.headers}, {name: srv.slow, arguments: {seconds: 0.1}}]
            - text: done
        """
        result = run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)
    calls = of_type(events(result), "tool_call")  # one turn's calls end in any order
    assert sorted((c["tool"], c["server"], c["status"]) for c in calls) == [
        ("srv.headers", "srv", "ok"),
        ("srv.slow", "srv", "ok"),
    ]
    for path in files_under(clean_env):
        assert canary not in path.read_text(errors="replace"), path
    # The server got the header (it checks it) and echoed it: the whole value is scrubbed.
    assert '\\"authorization\\": \\"***\\"' in (Path(result.run_dir) / "llm.jsonl").read_text()


def test_a_wrong_header_is_a_tool_error(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEARCH_TOKEN", "not-the-right-one")
    with http_server(tmp_path / "server", REQUIRE_AUTH="the-right-one-123") as url:
        tools = f'srv:\n  mcp: {{url: "{url}", headers: {{Authorization: "Bearer ${{SEARCH_TOKEN}}"}}}}\n'
        turns = "- tool_calls: [{name: srv.headers}]\n- text: done\n"
        result = run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "error"
    assert call["error"].endswith("unauthorized")


def test_an_http_refusal_of_a_call_is_a_tool_error_naming_the_status(
    tmp_path: Path, clean_env: Path
) -> None:
    # A token that expires mid-run: was "MCP error: MCPError: Server returned an error response".
    with refusing_server(401, calls_only=True) as url:
        tools = f'srv:\n  mcp: {{url: "{url}"}}\n'
        turns = "- tool_calls: [{name: srv.good}]\n- text: done\n"
        result = run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)
    (call,) = of_type(events(result), "tool_call")
    assert call["status"] == "error"
    assert "HTTP 401 Unauthorized" in call["error"], call["error"]


def test_an_http_server_that_is_not_there_stops_the_run(tmp_path: Path, clean_env: Path) -> None:
    tools = f'srv:\n  mcp: {{url: "http://127.0.0.1:{free_port()}/mcp", start_timeout_s: 5}}\n'
    with pytest.raises(ToolError, match="the MCP server did not start"):
        run(write(tmp_path / "c", crew_text(tools, "- text: done")), clean_env)


def test_a_limit_stop_ends_the_server_and_its_tree(tmp_path: Path, clean_env: Path) -> None:
    turns = """\
        - tool_calls: [{name: srv.pids}]
        - tool_calls: [{name: srv.slow, arguments: {seconds: 60}}]
        - text: done
    """
    tools = stdio_server("timeout_s: 120\n")
    text = crew_text(tools, turns, limits="run_timeout_s: 4")
    result = run(write(tmp_path / "c", text), clean_env)
    assert result.status == "stopped"
    assert result.hit is not None
    assert result.hit.kind == "run_timeout_s"
    pids = json.loads((tmp_path / "c" / "pids.json").read_text())
    assert [alive(pid) for pid in pids.values()] == [False, False, False]


def test_only_servers_an_agent_names_are_started(tmp_path: Path, clean_env: Path) -> None:
    tools = stdio_server() + f"unused:\n  mcp: {{command: [python, {RAW}, no-start]}}\n"
    result = run(write(tmp_path / "c", crew_text(tools, "- text: done")), clean_env)
    assert result.status == "ok"


def test_cwd_moves_the_server(tmp_path: Path, clean_env: Path) -> None:
    (tmp_path / "c" / "work").mkdir(parents=True)
    tools = stdio_server().replace("mcp: {", "mcp: {cwd: work, ")
    turns = "- tool_calls: [{name: srv.add, arguments: {a: 1, b: 2}}]\n- text: done\n"
    run(write(tmp_path / "c", crew_text(tools, turns)), clean_env)
    assert (tmp_path / "c" / "work" / "calls.txt").read_text() == "add\n"
    assert not (tmp_path / "c" / "calls.txt").exists()


def test_a_schema_that_is_not_json_schema_stops_the_run(tmp_path: Path, clean_env: Path) -> None:
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, bad-schema]}}\n"
    text = crew_text(tools, "- text: done", agent_tools="[raw]")
    with pytest.raises(ToolError, match="the input schema of 'broken' is not valid JSON Schema"):
        run(write(tmp_path / "c", text), clean_env)
    included = tools + "  include: [good]\n"
    result = run(
        write(tmp_path / "d", crew_text(included, "- text: done", agent_tools="[raw]")), clean_env
    )
    assert result.status == "ok"  # left out with include:, it is never offered


def test_a_reply_the_sdk_refuses_is_named_by_its_field(tmp_path: Path, clean_env: Path) -> None:
    # Was "ValidationError: 1 validation error for ListToolsResult": no field, no tool, no fix.
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, not-object]}}\n"
    text = crew_text(tools, "- text: done", agent_tools="[raw]")
    with pytest.raises(ToolError) as stopped:
        run(write(tmp_path / "c", text), clean_env)
    assert "ListToolsResult is malformed at tools.1.inputSchema.type: Input should be 'object'" in (
        str(stopped.value)
    )


def test_editing_the_server_file_invalidates_its_cache(tmp_path: Path, clean_env: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "server.py").write_text(SERVER.read_text())
    tools = "srv:\n  mcp: {command: [python, server.py]}\n  kind: deterministic\n"
    turns = "- tool_calls: [{name: srv.add, arguments: {a: 1, b: 2}}]\n- text: done\n"
    path = write(folder, crew_text(tools, turns))
    first = calls_of(events(run(path, clean_env)), "srv.add")[0]
    again = calls_of(events(run(path, clean_env)), "srv.add")[0]
    assert (first["cached"], again["cached"]) == (False, True)
    with (folder / "server.py").open("a") as server:
        server.write("\n# changed\n")
    edited = calls_of(events(run(path, clean_env)), "srv.add")[0]
    assert edited["cached"] is False
    assert edited["cache_key"] != first["cache_key"]
    assert (folder / "calls.txt").read_text() == "add\nadd\n"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_variable_stops_the_run_at_its_line(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # `TOKEN=` counted as set: the server got an empty token (over HTTP, `Bearer `: a 401 that
    # says nothing of the variable). Now it is an error at the line that names it.
    monkeypatch.setenv("EMPTY_IN_TESTS", value)
    tools = stdio_server("").replace("]}", '], env: {T: "${EMPTY_IN_TESTS}"}}')
    path = write(tmp_path / "c", crew_text(tools, "- text: done"))
    with pytest.raises(UsageError) as stopped:
        run(path, clean_env)
    line = path.read_text().splitlines()[3]  # the column of the value (the paths in it vary)
    column = line.index('"${EMPTY_IN_TESTS}"') + 1
    assert str(stopped.value).startswith(f"{path}:4:{column}: ")
    assert "tools.srv.mcp.env.T: EMPTY_IN_TESTS is set but empty" in str(stopped.value)
    assert "if empty is meant, leave ${EMPTY_IN_TESTS} out" in str(stopped.value)
    assert not (clean_env / "runs").exists()
    assert not (tmp_path / "c" / "calls.txt").exists()
