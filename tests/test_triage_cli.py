"""`mas triage loops` and `mas triage state` through the CLI runner: output and exit codes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from triage_logs import jsonl, llm, mas_event, otlp_line, otlp_span, run, tool
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CREW = ROOT / "crews" / "fraud-review" / "crew.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: Path, events: list[dict], name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(jsonl(events))
    return path


def test_loops_clean_log_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    log = write(tmp_path, run(llm(1), tool(1), llm(2)))
    result = runner.invoke(app, ["triage", "loops", str(log)])
    assert result.exit_code == 0, result.stderr
    assert "scorer" in result.stdout
    assert "no loops found" in result.stdout
    assert result.stderr == ""


def test_loops_finding_exits_1_and_prints_the_fix(runner: CliRunner, tmp_path: Path) -> None:
    log = write(tmp_path, run(*(llm(i) for i in range(1, 12))))
    result = runner.invoke(app, ["triage", "loops", str(log)])
    assert result.exit_code == 1
    assert "error turns: agent scorer took 11 turns on task score" in result.stdout
    assert "fix: set max_turns: 5 on agent scorer" in result.stdout
    assert f"{log}:2" in result.stdout
    assert "when: 2026-11-21 02:00:00 → 02:00:11 UTC (11 s)" in result.stdout  # since when


def test_fail_on_warning_and_error(runner: CliRunner, tmp_path: Path) -> None:
    log = write(tmp_path, run(*(llm(i) for i in range(1, 7))))  # 6 turns: a warning
    assert runner.invoke(app, ["triage", "loops", str(log)]).exit_code == 0
    assert runner.invoke(app, ["triage", "loops", str(log), "--fail-on", "warning"]).exit_code == 1
    assert (
        runner.invoke(
            app, ["triage", "loops", str(log), "-t", "turns=10", "--fail-on", "warning"]
        ).exit_code
        == 0
    )


def test_loops_json_is_machine_readable(runner: CliRunner, tmp_path: Path) -> None:
    log = write(tmp_path, run(tool(1), tool(2), tool(3)))
    result = runner.invoke(app, ["triage", "loops", str(log), "--json"])
    data = json.loads(result.stdout)
    [finding] = data["findings"]
    assert finding["detector"] == "repeated_calls"
    assert finding["evidence"]["first"] == {
        "file": str(log),
        "line": 3,
        "span": None,
        "ts": "2026-11-21T02:00:01.000000Z",
    }
    assert finding["evidence"]["last"]["line"] == 5
    assert finding["evidence"]["last"]["ts"] == "2026-11-21T02:00:03.000000Z"
    assert finding["where"] == {
        "crew": "c",  # the crew named by run_started
        "agent": "scorer",
        "agents": None,  # only when more than one agent made the calls
        "task": "score",
        "trace": "4bf92f3577b34da6a3ce929d0e0e4736",
    }
    assert data["agents"][0]["tool_calls"] == 3
    assert data["skipped_lines"] == {"count": 0, "first": []}


def test_a_table_shows_the_costliest_and_counts_all(runner: CliRunner, tmp_path: Path) -> None:
    events = []
    for number in range(40):  # 40 runs, each of one agent taking 6 to 45 turns
        one = run(*(llm(i) for i in range(1, 7 + number)))
        events += [{**e, "trace_id": f"{number:032x}"} for e in one]
    log = write(tmp_path, events)
    machine = runner.invoke(app, ["triage", "loops", str(log), "--json"])
    report = json.loads(machine.stdout)
    found = report["findings"]
    assert len([f for f in found if f["detector"] == "turns"]) == 40
    table = runner.invoke(app, ["triage", "loops", str(log)])
    assert table.exit_code == machine.exit_code == 1
    assert f"{len(found)} findings" in table.stdout
    assert f"… and {len(found) - 30} more findings (--json lists them all)" in table.stdout
    assert "took 45 turns" in table.stdout.split("\n1. ")[1].split("\n")[0]  # costliest first
    assert "took 6 turns" not in table.stdout  # the cheapest is not among the 30 shown
    assert report["agents"][0]["findings"] == len(found)  # every finding counted per agent
    row = next(line for line in table.stdout.splitlines() if line.startswith("scorer"))
    assert row.split()[-1] == str(len(found))


def test_loops_markdown(runner: CliRunner, tmp_path: Path) -> None:
    log = write(tmp_path, run(tool(1), tool(2), tool(3)))
    result = runner.invoke(app, ["triage", "loops", str(log), "--format", "md"])
    assert result.stdout.startswith("## mas triage loops")
    assert "| agent | calls |" in result.stdout
    assert "**warning** `repeated_calls`" in result.stdout


def test_a_pipe_in_an_agent_name_stays_in_its_markdown_cell(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`planner|exec` (LangGraph namespaces join with `|`) is one cell, not two columns."""
    events = run(*[tool(i, agent="planner|exec") for i in (1, 2, 3)])
    result = runner.invoke(app, ["triage", "loops", str(write(tmp_path, events)), "--format", "md"])
    rows = [line for line in result.stdout.splitlines() if line.startswith("| planner")]
    assert rows == ["| planner\\|exec | 0 | 3 | 0 | 0.0 | 0 | - | 1 |"]


def test_skipped_lines_are_reported_on_stderr(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(run(llm(1))) + "garbage\n")
    result = runner.invoke(app, ["triage", "loops", str(log)])
    assert result.exit_code == 0
    assert "skipped 1 unreadable line" in result.stderr
    assert f"{log}:6: not JSON" in result.stderr


def test_nothing_readable_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "noise.log"
    log.write_text("hello\nworld\n")
    result = runner.invoke(app, ["triage", "loops", str(log)])
    assert result.exit_code == 2
    assert "nothing readable" in result.stderr
    assert "--log-format" in result.stderr
    missing = runner.invoke(app, ["triage", "loops", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
    assert "cannot be read" in missing.stderr


def test_an_empty_input_says_it_is_empty(runner: CliRunner, tmp_path: Path) -> None:
    """`kubectl logs pod | mas triage loops -` on a pod that logged nothing: the input is
    empty, not a format to name (exit 2 still: there is no verdict)."""
    empty, blank = tmp_path / "empty.jsonl", tmp_path / "blank.log"
    empty.write_text("")
    blank.write_text("\n\n")
    for args, named in (([str(empty), str(blank)], f"{empty}, {blank}"), (["-"], "standard input")):
        result = runner.invoke(app, ["triage", "loops", *args], input="")
        assert result.exit_code == 2
        assert f"{named}: empty, or only blank lines: nothing to read" in result.stderr
        assert "--log-format" not in result.stderr


def test_bad_options_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    log = write(tmp_path, run(llm(1)))
    for args, message in (
        (["-t", "turnz=3"], "did you mean 'turns'"),
        (["--log-format", "xml"], "not known"),
        (["--fail-on", "info"], "warning or error"),
        (["--format", "csv"], "not known"),
        (["--pattern", "(?P<agent>\\w+)", "--log-format", "otlp"], "--pattern reads text logs"),
    ):
        result = runner.invoke(app, ["triage", "loops", str(log), *args])
        assert result.exit_code == 2, args
        assert message in result.stderr


def test_stdin_gzip_and_several_files(runner: CliRunner, tmp_path: Path) -> None:
    text = jsonl(run(tool(1), tool(2), tool(3)))
    result = runner.invoke(app, ["triage", "loops", "-", "--json"], input=text)
    assert json.loads(result.stdout)["findings"][0]["evidence"]["first"]["file"] == "-"
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    other = write(tmp_path, run(llm(1)), "b.jsonl")
    both = json.loads(runner.invoke(app, ["triage", "loops", str(gz), str(other), "--json"]).stdout)
    assert [s["path"] for s in both["sources"]] == [str(gz), str(other)]


def test_text_log_with_pattern(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    log.write_text("".join(f"step agent=scorer tool=search args=same n={i}\n" for i in range(4)))
    result = runner.invoke(
        app, ["triage", "loops", str(log), "--pattern", r"agent=(?P<agent>\w+) tool=(?P<tool>\w+)"]
    )
    assert result.exit_code == 0
    assert "repeated_calls" in result.stdout


def test_thresholds_from_the_crew_file(runner: CliRunner, tmp_path: Path) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(CREW.read_text().replace("\ntools:", "\ntriage: {turns: 2}\ntools:", 1))
    (tmp_path / "tools.py").write_text((CREW.parent / "tools.py").read_text())
    (tmp_path / "patterns.py").write_text((CREW.parent / "patterns.py").read_text())
    log = write(tmp_path, run(llm(1), llm(2), llm(3)))
    assert runner.invoke(app, ["triage", "loops", str(log)]).exit_code == 0
    result = runner.invoke(
        app, ["triage", "loops", str(log), "--crew", str(crew), "--fail-on", "warning"]
    )
    assert result.exit_code == 1, result.stderr
    assert "(threshold 2)" in result.stdout


# --- mas triage state ----------------------------------------------------------------------------


def state_file(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data))
    return path


def ours(**values: object) -> dict:
    return {k: {"value": v, "version": 1, "writer": "decide"} for k, v in values.items()}


def test_state_clean_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    path = state_file(tmp_path, ours(decision="approve", fraud_score=0.5))
    result = runner.invoke(app, ["triage", "state", str(path), "--crew", str(CREW)])
    assert result.exit_code == 0, result.stderr
    assert "state is clean" in result.stdout


def test_state_problems_exit_1(runner: CliRunner, tmp_path: Path) -> None:
    path = state_file(tmp_path, ours(decision="aprove", fraud_score="0.95", fraud_scor=0.2))
    result = runner.invoke(app, ["triage", "state", str(path), "--crew", str(CREW), "--json"])
    assert result.exit_code == 1
    problems = {p["key"]: p for p in json.loads(result.stdout)["problems"]}
    assert (
        problems["fraud_score"]["message"] == 'fraud_score: "0.95" is a string, expected a number'
    )
    assert problems["decision"]["kind"] == "enum"
    assert "did you mean 'approve'?" in problems["decision"]["message"]
    assert problems["fraud_scor"]["kind"] == "unknown"
    assert "did you mean 'fraud_score'?" in problems["fraud_scor"]["message"]


def test_state_table_output(runner: CliRunner, tmp_path: Path) -> None:
    path = state_file(tmp_path, ours(decision="approve", fraud_score=1.7))
    result = runner.invoke(app, ["triage", "state", str(path), "--crew", str(CREW)])
    assert result.exit_code == 1
    assert "fraud_score: 1.7 is above the maximum 1" in result.stdout


def test_state_unreadable_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["triage", "state", str(bad), "--crew", str(CREW)])
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr
    no_schema = runner.invoke(app, ["triage", "state", str(state_file(tmp_path, {}))])
    assert no_schema.exit_code == 2
    assert "--crew crew.yaml" in no_schema.stderr


def test_state_and_schema_files_with_a_byte_order_mark(runner: CliRunner, tmp_path: Path) -> None:
    """PowerShell's `Out-File` writes a BOM: the file is still UTF-8 JSON."""
    bom = "\ufeff"
    path = tmp_path / "state.json"
    path.write_text(bom + json.dumps(ours(fraud_score=0.5, decision="approve")), encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text(bom + json.dumps({"properties": {"decision": {}}}), encoding="utf-8")
    result = runner.invoke(app, ["triage", "state", str(path), "--crew", str(CREW)])
    assert (result.exit_code, result.stderr) == (0, "")
    result = runner.invoke(app, ["triage", "state", str(path), "--schema", str(schema)])
    assert result.exit_code == 1  # fraud_score: not a key of that schema
    assert "not valid JSON" not in result.stderr


def test_state_with_schema_file_and_plain_object(runner: CliRunner, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "required": ["decision", "score"],
                "properties": {"decision": {"enum": ["yes", "no"]}, "score": {"type": "number"}},
            }
        )
    )
    path = state_file(tmp_path, {"decision": None})
    result = runner.invoke(app, ["triage", "state", str(path), "--schema", str(schema), "--json"])
    kinds = {p["key"]: p["kind"] for p in json.loads(result.stdout)["problems"]}
    assert kinds == {"score": "missing", "decision": "null"}


def test_state_reads_a_run_log_that_starts_with_a_byte_order_mark(tmp_path: Path) -> None:
    """Its first line is run_started, which names the crew file the state is checked against."""
    from mas_cli.triage.state_log import read_run_log

    log = tmp_path / "events.jsonl"
    log.write_text("\ufeff" + jsonl(run(tool(1))), encoding="utf-8")
    read = read_run_log(log)
    assert (read.crew, read.crew_path, read.process) == ("c", "c.yaml", "sequential")


def test_state_with_run_log(runner: CliRunner, tmp_path: Path) -> None:
    def write_event(
        n: int,
        *,
        key: str,
        writer: str,
        read: int,
        version: int | None,
        accepted: bool = True,
        reason: str | None = None,
    ) -> dict:
        return mas_event(
            "state_write",
            n,
            agent="aggregator",
            task=writer,
            key=key,
            value=0.5,
            read_version=read,
            version=version,
            writer=writer,
            accepted=accepted,
            reason=reason,
        )

    events = run(
        write_event(1, key="fraud_score", writer="decide", read=0, version=1),
        write_event(
            2, key="fraud_score", writer="rescore", read=0, version=2
        ),  # replaced version 1 without reading it
        write_event(
            3,
            key="decision",
            writer="decide",
            read=0,
            version=None,
            accepted=False,
            reason="conflict: 'decision' is at version 1 (written by task 'x') but task 'decide' read version 0",
        ),
        write_event(
            4, key="decision", writer="analyze", read=1, version=2
        ),  # analyze does not declare decision
    )
    log = write(tmp_path, events)
    path = state_file(tmp_path, ours(decision="approve", fraud_score="high"))
    result = runner.invoke(
        app, ["triage", "state", str(path), "--crew", str(CREW), "--log", str(log), "--json"]
    )
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    kinds = [(p["key"], p["kind"]) for p in problems]
    assert ("fraud_score", "type") in kinds
    assert ("fraud_score", "lost_update") in kinds
    assert ("decision", "conflict") in kinds
    assert ("decision", "undeclared_writer") in kinds
    bad = next(p for p in problems if p["kind"] == "type")
    assert (bad["writer"], bad["where"]) == (
        "rescore",
        f"{log}:4",
    )  # the last writer of the bad key


def test_state_log_by_run_id(runner: CliRunner, tmp_path: Path, clean_env: Path) -> None:
    folder = clean_env / "runs" / "20261121T020000000-abcdef"
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text(jsonl(run(llm(1))))
    path = state_file(tmp_path, ours(decision="approve", fraud_score=0.1))
    result = runner.invoke(
        app, ["triage", "state", str(path), "--crew", str(CREW), "--log", "20261121T02"]
    )
    assert result.exit_code == 0, result.stderr
    assert "events.jsonl" in result.stdout


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A home with a clean fraud-review run, then the runaway-rescoring incident: run ids too."""
    home = tmp_path_factory.mktemp("home")
    runaway = ROOT / "crews" / "runaway-rescoring" / "crew.yaml"
    for crew in (CREW, runaway):
        done = CliRunner().invoke(app, ["run", str(crew), "--offline", "-q", "--home", str(home)])
        assert done.exit_code in (0, 3), done.stderr
    return home, sorted(p.name for p in (home / "runs").iterdir())


def test_loops_last_reads_the_last_run(two_runs: tuple[Path, list[str]]) -> None:
    """`--last`, as `mas show` and `mas cost-report` take it, through the fast path too."""
    home, (_, runaway) = two_runs
    argv = ["triage", "loops", "--last", "--home", str(home)]
    typer_run = CliRunner().invoke(app, argv)
    assert typer_run.exit_code == 1, typer_run.stderr  # the incident's loop is an error
    assert f"runs/{runaway}/events.jsonl" in typer_run.stdout
    assert "cycle" in typer_run.stdout
    plain = subprocess.run(
        [sys.executable, "-m", "mas_cli", *argv], capture_output=True, text=True, check=False
    )
    assert (plain.returncode, plain.stdout) == (1, typer_run.stdout)


def test_loops_reads_a_run_named_by_its_id_or_prefix(two_runs: tuple[Path, list[str]]) -> None:
    home, (clean, runaway) = two_runs
    done = CliRunner().invoke(app, ["triage", "loops", clean[:22], "--home", str(home)])
    assert done.exit_code == 0, done.stderr
    assert f"runs/{clean}/events.jsonl" in done.stdout
    assert "no loops found" in done.stdout
    both = CliRunner().invoke(app, ["triage", "loops", clean, runaway, "--home", str(home)])
    assert both.exit_code == 1
    assert clean in both.stdout
    assert runaway in both.stdout


def test_loops_last_with_a_log_or_an_unknown_run_is_a_usage_error(
    two_runs: tuple[Path, list[str]], tmp_path: Path
) -> None:
    home, _ = two_runs
    log = write(tmp_path, run(llm(1)))
    mixed = CliRunner().invoke(app, ["triage", "loops", str(log), "--last", "--home", str(home)])
    assert mixed.exit_code == 2
    assert "--last reads the last run alone" in mixed.stderr
    unknown = CliRunner().invoke(app, ["triage", "loops", "20991231T", "--home", str(home)])
    assert unknown.exit_code == 2
    assert "no run matching '20991231T'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_when_runs_forward_on_spans_written_newest_first(runner: CliRunner, tmp_path: Path) -> None:
    """A trace exported newest span first: the finding's time runs from its earliest call to
    its latest, with their distance (not `02:00:05 → 02:00:01 (0 s)`)."""
    call = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    call |= {"gen_ai.agent.name": "scorer", "gen_ai.tool.call.arguments": '{"q": "x"}'}
    spans = [otlp_span(f"{i:016x}", "a" * 16, "execute_tool", call, start=i) for i in (5, 3, 1)]
    root = otlp_span("a" * 16, "", "invoke_agent scorer", {"gen_ai.agent.name": "scorer"})
    log = tmp_path / "traces.jsonl"
    log.write_text(otlp_line(*spans, root))
    result = runner.invoke(app, ["triage", "loops", str(log)])
    [when] = [line for line in result.stdout.splitlines() if "when:" in line]
    assert when.strip() == "when: 2026-11-18 11:06:41 → 11:06:45 UTC (4 s)"


def test_times_with_and_without_a_zone_in_one_finding(runner: CliRunner, tmp_path: Path) -> None:
    """`02:00:01Z` then `02:00:03`: no distance between them is known; shown as written, in
    the table and in Markdown, never an internal error."""
    line = "2026-11-21T02:00:0{}{} agent_run agent=scorer tool=search args=q1\n"
    log = tmp_path / "app.log"
    log.write_text(line.format(1, "Z") + line.format(2, "") + line.format(3, ""))
    for out in ("table", "md"):
        result = runner.invoke(app, ["triage", "loops", str(log), "--format", out])
        assert result.exit_code == 0, result.output
        assert "2026-11-21T02:00:01Z → 2026-11-21T02:00:03" in result.stdout


def test_loops_reads_a_run_folder_and_refuses_another_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Tab completion stops at `.mas/runs/<run_id>/`: the folder names the run's events.jsonl;
    another folder is a usage error that says what to name, not "Is a directory"."""
    folder = tmp_path / "runs" / "20261206T194346741-f07949"
    folder.mkdir(parents=True)
    write(folder, run(*[tool(i, result="same") for i in range(1, 5)]))
    result = runner.invoke(app, ["triage", "loops", str(folder), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["sources"][0]["path"] == str(folder / "events.jsonl")
    for other, logs in ((folder.parent, "*/events.jsonl"), (tmp_path / "empty", "*.jsonl")):
        other.mkdir(exist_ok=True)
        result = runner.invoke(app, ["triage", "loops", str(other)])
        assert result.exit_code == 2
        assert (
            f"{other}: a folder, not a log (name the logs in it ({other}/{logs})" in result.stderr
        )


def test_a_log_named_twice_is_read_once(runner: CliRunner, tmp_path: Path) -> None:
    """A run's folder and its events.jsonl, or a path given twice: one log, counted once."""
    log = write(tmp_path, run(*[tool(i, result="same") for i in range(1, 5)]))
    result = runner.invoke(app, ["triage", "loops", str(tmp_path), str(log), str(log), "--json"])
    data = json.loads(result.stdout)
    assert [s["path"] for s in data["sources"]] == [str(log)]
    assert (data["records"], data["traces"], len(data["findings"])) == (8, 1, 1)
    assert data["agents"][0]["tool_calls"] == 4
