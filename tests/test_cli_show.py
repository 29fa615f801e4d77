"""`mas show`: what happened, in full when asked, as JSON, named by the run's folder too."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _run(crew: str, *args: str) -> Path:
    done = runner.invoke(app, ["run", str(ROOT / "crews" / crew / "crew.yaml"), "-q", *args])
    assert done.exit_code in (0, 3), done.stderr
    return Path(done.stderr.splitlines()[-1].rsplit(" log ", 1)[1]).parent


def test_full_shows_tool_arguments_results_and_model_text(clean_env: Path) -> None:
    _run("support-ticket", "--offline")
    plain = runner.invoke(app, ["show", "--last"]).stdout
    full = runner.invoke(app, ["show", "--last", "--full"], env={"COLUMNS": "300"}).stdout
    assert "arguments:" not in plain
    assert 'arguments: {"query": ' in full
    assert 'result: {"query": ' in full
    assert "Refund policy" in full
    assert 'text: {"category": "billing"' in full


def test_json_is_the_tree_with_its_events(clean_env: Path) -> None:
    _run("support-ticket", "--offline")
    tree = json.loads(runner.invoke(app, ["show", "--last", "--json", "--full"]).stdout)
    assert tree["run"]["crew"] == "support-ticket"
    assert tree["finished"]["status"] == "ok"
    assert [t["event"]["task"] for t in tree["tasks"]] == ["triage", "answer", "review"]
    turn = tree["tasks"][1]["children"][0]
    tool = next(c for c in turn["children"] if c["event"]["type"] == "tool_call")
    assert json.loads(tool["arguments"])["query"]
    assert "Refund policy" in tool["result"]


def test_a_run_folder_names_the_run(clean_env: Path) -> None:
    folder = _run("support-ticket", "--offline")
    for name in (str(folder), str(folder) + "/"):
        done = runner.invoke(app, ["show", name])
        assert done.exit_code == 0, done.stderr
        assert f"run {folder.name} ok" in done.stdout


def test_the_turn_count_matches_the_turns_listed(clean_env: Path) -> None:
    _run("runaway-rescoring")
    shown = runner.invoke(app, ["show", "--last"], env={"COLUMNS": "300"}).stdout
    blocks = re.split(r"\n(?=[├└]── )", shown)[1:]
    assert blocks
    for block in blocks:
        said = int(re.search(r"  (\d+) turns? ", block.splitlines()[0])[1])  # type: ignore[index]
        assert said == len(re.findall(r"── turn \d+", block)), block


def test_full_never_shows_a_secret_and_output_drives_no_terminal(
    tmp_path: Path, clean_env: Path, monkeypatch: object
) -> None:
    from crewkit import write_crew

    canary = "tok-canary-5f1e2d3c4b"
    monkeypatch.setenv("MY_API_TOKEN", canary)  # type: ignore[attr-defined]
    (tmp_path / "leaky.py").write_text(
        "import os\n\ndef leak() -> str:\n    return 'token ' + os.environ['MY_API_TOKEN']\n",
        encoding="utf-8",
    )
    crew = write_crew(
        tmp_path,
        """
name: leaky
tools: {leak: {function: leaky.py:leak}}
agents:
  a:
    role: A
    model: offline
    script: [{tool_calls: [{name: leak}]}, {text: "done \\u001b[2J"}]
    tools: [leak]
tasks: [{id: t, agent: a, prompt: hi}]
""",
    )
    ran = runner.invoke(app, ["run", str(crew), "-q"])
    assert ran.exit_code == 0, ran.stderr
    assert "\x1b" not in ran.stdout  # the crew's printed output is made safe too
    assert "done \\x1b[2J" in ran.stdout
    full = runner.invoke(app, ["show", "--last", "--full"], env={"COLUMNS": "300"}).stdout
    assert "result: token ***" in full
    assert canary not in full
    assert canary not in runner.invoke(app, ["show", "--last", "--full", "--json"]).stdout


def test_a_recording_line_nested_too_deep_is_skipped_by_every_reader(clean_env: Path) -> None:
    folder = _run("support-ticket", "--offline")
    lines = (folder / "llm.jsonl").read_text().splitlines()
    record = next(r for r in map(json.loads, lines) if r["response"]["message"]["tool_calls"])
    record["response"]["message"]["tool_calls"][0]["arguments"] = "D"
    with (folder / "llm.jsonl").open("a") as out:  # a later attempt's line wins: the deep one
        for depth in (100_000, 900):
            out.write(json.dumps(record).replace('"D"', "[" * depth + "]" * depth) + "\n")
    full = runner.invoke(app, ["show", "--last", "--full"], env={"COLUMNS": "300"})
    assert full.exit_code == 0, full.stderr
    assert "Refund policy" in full.stdout
    as_json = runner.invoke(app, ["show", "--last", "--full", "--json"])
    assert as_json.exit_code == 0, as_json.stderr
    seen = runner.invoke(app, ["view", "--last", "--no-open", "--include-content"])
    assert seen.exit_code == 0, seen.stderr
    sent = runner.invoke(app, ["export", "--last", "--include-content"])
    assert sent.exit_code == 0, sent.stderr
    assert "Refund policy" in sent.stdout


def test_a_log_path_that_is_no_regular_file_is_refused_not_read_forever(
    tmp_path: Path, clean_env: Path
) -> None:
    import os

    endless = tmp_path / "zero" / "events.jsonl"
    endless.parent.mkdir()
    endless.symlink_to("/dev/zero")  # planted in a run folder: never ends, never a newline
    fifo = tmp_path / "fifo" / "events.jsonl"
    fifo.parent.mkdir()
    os.mkfifo(fifo)  # nobody writes to it: opening it would wait for ever
    for log in (endless, fifo):
        for command in ("show", "cost-report", "view", "export"):
            result = runner.invoke(app, [command, str(log)])
            assert result.exit_code == 2, result.output
            assert f"{log} is not a regular file" in " ".join(result.stderr.split())


def test_a_line_break_in_a_name_cannot_forge_a_line_of_runs_or_show(clean_env: Path) -> None:
    folder = _run("fraud-review", "--offline")
    log = folder / "events.jsonl"
    text = log.read_text().replace('"crew":"fraud-review"', '"crew":"fraud\\nforged"', 1)
    log.write_text(text.replace('"agent":"analyzer"', '"agent":"analyzer\\nforged"'))
    for args in (["runs"], ["show", "--last"]):
        result = runner.invoke(app, args, env={"COLUMNS": "300"})
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert not [line for line in lines if line.lstrip("│├└─ ").startswith("forged")]
        assert "fraud\\nforged" in result.stdout
    assert "analyzer\\nforged" in runner.invoke(app, ["show", "--last"]).stdout
