"""`mas tool-test` through the CLI runner: every outcome, its exit code, stdout and stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from toolcrew import calls, write_crew
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.cli.render.tooltest import MAX_CHARS, shorten
from mas_cli.tools.arguments import coerce

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = ROOT / "crews" / "support-ticket" / "crew.yaml"
runner = CliRunner()


@pytest.fixture
def crew(tmp_path: Path) -> Path:
    return write_crew(tmp_path / "crew")


def tool_test(*argv: str) -> Any:
    return runner.invoke(app, ["tool-test", *argv])


def rows(stdout: str) -> list[list[str]]:
    """The runs table: run, status, cache, latency (values only)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["run", "status"])
    table = []
    for line in lines[start + 1 :]:
        if not line.strip() or not line.split()[0].isdigit():
            break
        table.append(line.split()[:3])
    return table


def test_readme_example_runs_the_support_search() -> None:
    result = tool_test("search", "--crew", str(SUPPORT), "--arg", "query=refund policy")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith('search (deterministic) {"query": "refund policy"} · key ')
    assert rows(result.stdout) == [["1", "ok", "miss"]]
    assert '"article": "refund-policy"' in result.stdout
    assert result.stdout.rstrip().endswith("✓ ok")


def test_repeat_reports_hit_or_miss_per_run_and_latency_figures(crew: Path) -> None:
    result = tool_test("lookup", "--crew", str(crew), "--arg", "query=q", "--repeat", "3")
    assert result.exit_code == 0, result.stderr
    assert rows(result.stdout) == [["1", "ok", "miss"], ["2", "ok", "hit"], ["3", "ok", "hit"]]
    assert "latency min " in result.stdout
    assert " · median " in result.stdout
    assert " · p95 " in result.stdout
    assert " · max " in result.stdout
    assert "identical output across 3 runs (2 from the cache" in result.stdout
    assert calls(crew.parent) == ["lookup"]
    again = tool_test("lookup", "--crew", str(crew), "--arg", "query=q")
    assert rows(again.stdout) == [["1", "ok", "hit"]]  # the cache outlives the command


def test_no_cache_runs_the_tool_every_time(crew: Path) -> None:
    result = tool_test("lookup", "--crew", str(crew), "-a", "query=q", "-n", "2", "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert [r[:2] for r in rows(result.stdout)] == [["1", "ok"], ["2", "ok"]]
    assert " hit" not in result.stdout
    assert calls(crew.parent) == ["lookup", "lookup"]
    assert "identical output across 2 runs\n" in result.stdout


def test_arg_values_take_their_parameters_types(crew: Path) -> None:
    result = tool_test(
        "lookup", "--crew", str(crew), "--arg", "query=7", "--arg", "limit=1", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["arguments"] == {"query": "7", "limit": 1}
    assert json.loads(report["runs"][0]["output"])["hits"] == ["7"]


def test_coercion_follows_the_schema() -> None:
    assert coerce("2", {"type": "integer"}) == 2
    assert coerce("2.5", {"type": "number"}) == 2.5
    assert coerce("true", {"type": "boolean"}) is True
    assert coerce("007", {"type": "string"}) == "007"
    assert coerce('["a", "b"]', {"type": "array"}) == ["a", "b"]
    assert coerce("null", {"type": ["integer", "null"]}) is None
    assert coerce("3", {"type": ["string", "integer"]}) == 3
    assert coerce("x", {"type": "integer"}) == "x"  # left for the schema check to report
    assert coerce("x", {}) == "x"
    assert coerce("4", {}) == 4


def test_args_as_json_and_from_a_file_with_arg_over_them(crew: Path, tmp_path: Path) -> None:
    (tmp_path / "args.json").write_text('{"query": "from-file", "limit": 3}', encoding="utf-8")
    result = tool_test("lookup", "--crew", str(crew), "--args", "@" + str(tmp_path / "args.json"))
    assert result.exit_code == 0, result.stderr
    assert '"limit": 3' in result.stdout
    result = tool_test(
        "lookup", "--crew", str(crew), "--args", '{"query": "j", "limit": 3}', "--arg", "limit=1"
    )
    assert result.exit_code == 0, result.stderr
    assert '{"query": "j", "limit": 1}' in result.stdout


def test_each_bad_argument_has_its_own_message_and_exit_2(crew: Path) -> None:
    result = tool_test("lookup", "--crew", str(crew), "--arg", "limit=many", "--arg", "colour=red")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: lookup: query: required",
        "error: lookup: colour: unknown argument (expected: query, limit, ratio)",
        "error: lookup: limit: 'many' is not of type 'integer'",
        "the tool was not run; its parameters are query: string, limit?: integer = 2, ratio?: "
        "number = 0.5 (give them as --arg key=value, or --args JSON)",
    ]
    assert calls(crew.parent) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--args", "{nope"], "error: --args: not valid JSON"),
        (["--args", "[1]"], "error: --args: expected a JSON object of arguments, got an array"),
        (["--args", "@missing.json"], "error: missing.json: cannot be read"),
        (["--arg", "novalue"], "error: --arg 'novalue' is not key=value"),
        (["--repeat", "0"], "error: --repeat 0: give 1 or more"),
        (["--timeout", "0"], "error: --timeout 0: give a number of seconds above 0"),
        (["--timeout", "nan"], "error: --timeout nan: give a number of seconds above 0"),
        (["--timeout", "inf"], "error: --timeout inf: give a number of seconds above 0"),
        (
            ["--args", "@/dev/zero"],
            "error: /dev/zero: larger than 8,388,608 bytes, the most --args",
        ),
    ],
)
def test_malformed_options_exit_2(crew: Path, argv: list[str], message: str) -> None:
    result = tool_test("lookup", "--crew", str(crew), *argv)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)


def test_an_args_file_with_a_byte_order_mark_is_read(crew: Path, tmp_path: Path) -> None:
    path = tmp_path / "args.json"
    path.write_bytes(b'\xef\xbb\xbf{"query": "q"}')
    result = tool_test("lookup", "--crew", str(crew), "--args", f"@{path}")
    assert result.exit_code == 0, result.stderr


def test_an_args_file_that_is_not_utf8_exits_2_naming_the_byte(crew: Path, tmp_path: Path) -> None:
    path = tmp_path / "args.json"
    path.write_bytes(b'{"query": "caf\xe9"}')
    result = tool_test("lookup", "--crew", str(crew), "--args", f"@{path}")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: not UTF-8 (byte 15) (save it as UTF-8 JSON)")
    assert calls(crew.parent) == []


def test_unknown_tool_exits_2_with_a_suggestion(crew: Path) -> None:
    result = tool_test("lookp", "--crew", str(crew), "--arg", "query=q")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("no tool 'lookp' (did you mean 'lookup'?)")


def test_the_crew_is_found_in_the_current_folder(
    crew: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(crew.parent)
    result = tool_test("lookup", "--arg", "query=q")
    assert result.exit_code == 0, result.stderr
    crew.rename(crew.with_name("mas.yaml"))
    assert tool_test("lookup", "--arg", "query=q").exit_code == 0


def test_without_a_crew_the_error_lists_the_crews_under_crews(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_crew(tmp_path / "crews" / "one")
    write_crew(tmp_path / "crews" / "two")
    monkeypatch.chdir(tmp_path)
    result = tool_test("lookup", "--arg", "query=q")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: no crew file here (looked for crew.yaml and mas.yaml) (give --crew; crew files "
        "under ./crews: crews/one/crew.yaml, crews/two/crew.yaml)"
    ]


def test_a_raising_tool_shows_its_own_traceback_and_exits_1(crew: Path) -> None:
    result = tool_test("fails", "--crew", str(crew), "--arg", "query=q")
    assert result.exit_code == 1
    assert result.stderr == ""
    out = result.stdout
    assert "error: RuntimeError: cannot look up 'q'" in out
    assert "Traceback (most recent call last):" in out
    assert 'tools.py", line' in out
    assert "in fails" in out
    assert "in _inner" in out
    assert "mas_cli" not in out  # the tool's frames, not ours
    assert out.rstrip().endswith("✗ failed")


def test_a_timeout_is_reported_and_exits_1(crew: Path) -> None:
    result = tool_test("hangs", "--crew", str(crew), "--timeout", "0.1", "--repeat", "3")
    assert result.exit_code == 1
    assert rows(result.stdout) == [["1", "timeout", "miss"]]  # no point waiting three times
    assert "timed out after 0.1s (give it longer: --timeout S" in result.stdout
    assert result.stdout.rstrip().endswith("✗ timed out")


def test_a_deterministic_tool_whose_outputs_differ_is_flagged_with_a_diff(crew: Path) -> None:
    result = tool_test("noisy", "--crew", str(crew), "--repeat", "2", "--no-cache")
    assert result.exit_code == 1
    assert "outputs differ between runs" in result.stdout
    assert "--- run 1\n+++ run 2\n@@" in result.stdout
    assert result.stdout.rstrip().endswith("✗ not deterministic")


def test_a_live_tool_whose_outputs_differ_passes(crew: Path) -> None:
    result = tool_test("live_noisy", "--crew", str(crew), "--repeat", "2")
    assert result.exit_code == 0, result.stderr
    assert "outputs differ between runs (expected of a live tool)" in result.stdout
    assert [r[:2] for r in rows(result.stdout)] == [["1", "ok"], ["2", "ok"]]
    assert " miss " not in result.stdout  # never cached: no hit or miss to report


def test_long_output_is_cut_unless_full(crew: Path) -> None:
    cut = tool_test("long_text", "--crew", str(crew), "--arg", "lines=100")
    assert "line 39\n… " in cut.stdout
    assert "line 40" not in cut.stdout
    assert "more characters (--full shows all)" in cut.stdout
    whole = tool_test("long_text", "--crew", str(crew), "--arg", "lines=100", "--full")
    assert "line 99" in whole.stdout
    assert "--full shows all" not in whole.stdout


def test_json_report(crew: Path) -> None:
    result = tool_test("lookup", "--crew", str(crew), "--arg", "query=q", "-n", "2", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["verdict"] == "ok"
    assert report["identical"] is True
    assert len(report["cache_key"]) == 64
    assert [r["cache"] for r in report["runs"]] == ["miss", "hit"]
    assert report["runs"][1]["saved_s"] == round(report["runs"][0]["latency_s"], 6)
    assert set(report["latency_s"]) == {"min", "median", "p95", "max"}


def test_a_broken_cache_is_a_warning_on_stderr_and_the_test_still_runs(
    crew: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    (home / "cache" / "cache.db").write_bytes(b"garbage" * 1000)
    result = tool_test("lookup", "--crew", str(crew), "-a", "query=q", "--home", str(home))
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: tool cache ")
    assert "cannot open" in result.stderr
    assert rows(result.stdout) == [["1", "ok", "miss"]]


# --- --all: every tool on its examples, as a CI check ---------------------------------------


def test_all_passes_on_the_example_crews_whose_tools_have_examples() -> None:
    ran_nothing = {"delegation-ping-pong", "hierarchical-report", "runaway-rescoring"}
    for crew in sorted(ROOT.glob("crews/*/crew.yaml")):
        result = tool_test("--all", "--crew", str(crew))
        expected = 1 if crew.parent.name in ran_nothing else 0  # no tools, or none with examples
        assert result.exit_code == expected, (crew, result.stdout, result.stderr)


def test_all_reports_each_example_and_fails_on_any_failure(tmp_path: Path) -> None:
    crew = write_crew(
        tmp_path / "crew",
        {
            "lookup": {
                "function": "tools.py:lookup",
                "kind": "deterministic",
                "examples": [{"query": "a"}, {"query": "b", "limit": 1}],
            },
            "fails": {"function": "tools.py:fails", "examples": [{"query": "x"}]},
            "bad_example": {"function": "tools.py:lookup", "examples": [{"limit": 1}]},
            "noisy": {"function": "tools.py:noisy"},
        },
    )
    result = tool_test("--all", "--crew", str(crew))
    assert result.exit_code == 1
    table = [line.split()[:3] for line in result.stdout.splitlines()[1:6]]
    assert table == [
        ["lookup", "1", "ok"],
        ["lookup", "2", "ok"],
        ["fails", "1", "failed"],
        ["bad_example", "1", "bad"],
        ["noisy", "skipped:", "no"],
    ]
    assert "2 of 5 failed" in result.stdout
    assert "RuntimeError: cannot look up 'x'" in result.stdout
    assert "query: required" in result.stdout


def test_all_with_only_passing_tools_exits_0(tmp_path: Path) -> None:
    crew = write_crew(
        tmp_path / "crew",
        {"lookup": {"function": "tools.py:lookup", "examples": [{"query": "a"}]}},
    )
    result = tool_test("--all", "--crew", str(crew), "--json")
    assert result.exit_code == 0
    assert [t["verdict"] for t in json.loads(result.stdout)] == ["ok"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lookup", "--all"], "error: give a tool name or --all, not both"),
        (["--all", "--arg", "query=q"], "error: --all runs each tool's examples"),
        ([], "error: name the tool to test"),
        (
            ["crew.yaml", "--all"],
            "error: crew.yaml is a crew file, not a tool (give it with --crew",
        ),
    ],
)
def test_all_and_a_tool_name_are_exclusive(crew: Path, argv: list[str], message: str) -> None:
    result = tool_test(*argv, "--crew", str(crew))
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


# --- --all that ran nothing does not pass ---------------------------------------------------


def test_all_with_every_tool_skipped_ran_nothing_and_fails(tmp_path: Path) -> None:
    crew = write_crew(tmp_path / "crew", {"lookup": {"function": "tools.py:lookup"}})
    result = tool_test("--all", "--crew", str(crew))
    assert result.exit_code == 1
    assert "all passed" not in result.stdout
    assert "nothing ran: 0 ran · 1 skipped (no examples in the crew file)" in result.stdout
    assert result.stderr.startswith("error: no tool ran, so nothing was tested")
    assert "examples:" in result.stderr


def test_all_answered_from_the_cache_says_so_and_fails(tmp_path: Path) -> None:
    examples = {
        "function": "tools.py:lookup",
        "kind": "deterministic",
        "examples": [{"query": "a"}],
    }
    crew = write_crew(tmp_path / "crew", {"lookup": examples})
    first = tool_test("--all", "--crew", str(crew))
    assert first.exit_code == 0, first.stdout
    assert "all passed · 1 ran" in first.stdout
    again = tool_test("--all", "--crew", str(crew))
    assert again.exit_code == 1
    assert "ok (cached, not run)" in again.stdout
    assert "1 answered from the cache, not run (--no-cache runs them)" in again.stdout
    assert "--no-cache" in again.stderr
    as_json = json.loads(tool_test("--all", "--crew", str(crew), "--json").stdout)
    assert [(t["ran"], t["cached"]) for t in as_json] == [(False, True)]
    fresh = tool_test("--all", "--crew", str(crew), "--no-cache")
    assert fresh.exit_code == 0
    assert "all passed · 1 ran" in fresh.stdout


def test_all_on_a_crew_without_tools_ran_nothing(tmp_path: Path) -> None:
    crew = ROOT / "crews" / "delegation-ping-pong" / "crew.yaml"
    result = tool_test("--all", "--crew", str(crew))
    assert result.exit_code == 1
    assert "the crew declares no tools" in result.stdout


def test_all_with_some_skipped_passes_and_says_what_was_skipped(tmp_path: Path) -> None:
    tools = {
        "lookup": {"function": "tools.py:lookup", "examples": [{"query": "a"}]},
        "noisy": {"function": "tools.py:noisy"},
    }
    result = tool_test("--all", "--crew", str(write_crew(tmp_path / "crew", tools)))
    assert result.exit_code == 0
    assert "all passed · 1 ran · 1 skipped (no examples in the crew file)" in result.stdout


def test_repeat_keeps_digests_not_every_output(crew: Path) -> None:
    # --repeat N held every run's output: memory grew with N (12 runs of 0.65 MB: 25 MB peak).
    # Now only the outputs a report shows are kept: the first, the first that differs.
    import asyncio
    import tracemalloc

    from mas_cli.spec.loader import load_crew
    from mas_cli.tools.testresult import to_json
    from mas_cli.tools.tooltest import exercise, pick_tool

    tool = pick_tool(load_crew(crew), "long_text")
    tracemalloc.start()
    try:
        test = asyncio.run(exercise(tool, {"lines": 60_000}, 12, None))
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert peak < 15, f"{peak:.1f} MB"  # one run at a time takes about 5 MB here
    assert test.identical is True
    assert test.verdict == "ok"
    runs = to_json(test)["runs"]
    assert runs[0]["output"].startswith("line 0\nline 1")
    assert [r["output"] for r in runs[1:]] == [None] * 11
    assert len({r["output_sha256"] for r in runs}) == 1


def test_the_first_output_that_differs_is_kept_for_the_diff(crew: Path) -> None:
    result = tool_test("noisy", "--crew", str(crew), "-n", "4", "--no-cache", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["identical"] is False
    assert "--- run 1\n+++ run 2\n@@" in report["diff"]
    assert [r["output"] is None for r in report["runs"]] == [False, False, True, True]


def test_an_output_ending_in_a_newline_is_not_said_to_be_cut() -> None:
    # `mas tool-test docs.read_doc` on a short file said "… 1 more characters": its last newline
    text = "# Refunds\n\nIn full within 5 days.\n"
    assert shorten(text, full=False) == text
    assert shorten("x" * (MAX_CHARS + 1), full=False).endswith(
        "… 1 more character (--full shows all)"
    )
