"""`runs`, `show`, `cost-report` and `triage loops` take a batch: its folder first, then its runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()

CREW = """
    name: loopy
    inputs:
      item: {description: The item}
    models:
      m: {provider: offline, model: gpt-4o-mini}
    limits: {max_llm_calls: 6}
    agents:
      a:
        role: Echo
        model: m
        script:
          repeat: true
          turns: [{text: "same answer"}]
    tasks:
      - {id: answer, agent: a, prompt: "Answer {item}."}
"""


def mas(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture
def batch(tmp_path: Path, clean_env: Path) -> Path:
    crew = write_crew(tmp_path / "crew", CREW)
    items = tmp_path / "items.jsonl"
    rows = [{"id": f"k{n}", "item": "x" * (n * 400)} for n in range(6)]
    rows.append({"id": "bad", "nope": 1})
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = mas("batch", str(crew), "--inputs", str(items), "--key", "id", "-q")
    assert result.exit_code == 1, result.stderr
    (folder,) = (clean_env / "batches").iterdir()
    return folder


def test_runs_lists_a_batch_items_dearest_first_with_totals(batch: Path) -> None:
    result = mas("runs", "--batch", batch.name[:12] + batch.name[12:], "--json")
    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)
    assert {i["key"] for i in items} == {f"k{n}" for n in range(6)}
    table = mas("runs", "--last-batch")
    assert table.exit_code == 0, table.stderr
    keys = [line.split()[0] for line in table.stdout.splitlines()[1:]]
    assert keys[0] == "k5"  # the longest input cost most
    assert "6 items (ok 6) · dead letters 1" in table.stderr
    listed = mas("runs", "--batches", "--json")
    (row,) = json.loads(listed.stdout)
    assert row["batch_id"] == batch.name
    assert row["counts"]["ok"] == 6
    assert row["counts"]["dead"] == 1


def test_show_draws_the_batch_and_its_costliest_items(batch: Path) -> None:
    result = mas("show", batch.name, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["by_status"] == {"ok": 6}
    assert doc["dead_letters"] == 1
    assert doc["costliest"][0]["key"] == "k5"
    costs = [i["cost_usd"] for i in doc["costliest"]]
    assert costs == sorted(costs, reverse=True)
    assert doc["cost_usd"] == pytest.approx(sum(costs))
    drawn = mas("show", "--last-batch")
    assert drawn.exit_code == 0
    assert "costliest items:" in drawn.stdout


def test_cost_report_takes_a_batch_and_totals_every_item(batch: Path) -> None:
    result = mas("cost-report", "--batch", batch.name, "--json", "--by", "model")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["runs"]) == 6
    shown = json.loads(mas("show", batch.name, "--json").stdout)
    assert doc["total"]["cost_usd"] == pytest.approx(shown["cost_usd"])


def test_a_batch_missing_an_item_run_fails_its_gates_and_says_so(
    batch: Path, clean_env: Path
) -> None:
    whole = json.loads(mas("cost-report", "--batch", batch.name, "--json").stdout)["total"]
    gone = json.loads((batch / "results.jsonl").read_text().splitlines()[-1])["run_id"]
    for path in (clean_env / "runs" / gone).iterdir():
        path.unlink()
    (clean_env / "runs" / gone).rmdir()  # pruned, as `mas runs prune` may do
    left = json.loads(mas("cost-report", "--batch", batch.name, "--json").stdout)["total"]
    assert left["cost_usd"] < whole["cost_usd"]
    gate = mas("cost-report", "--batch", batch.name, "--fail-over", str(left["cost_usd"]))
    assert gate.exit_code == 1, gate.stderr
    assert "1 of 6 runs of the batch are gone" in gate.stderr
    assert gone in gate.stderr
    assert "cannot check --fail-over" in gate.stderr


def test_a_resumed_batch_costs_every_run_it_made_not_only_each_item_last(
    tmp_path: Path, clean_env: Path
) -> None:
    two_tasks = (
        CREW + '      - {id: again, agent: a, prompt: "Again {item}.", depends_on: [answer]}\n'
    )
    crew = write_crew(tmp_path / "crew", two_tasks)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"item": f"i{n}"}) + "\n" for n in range(4)))
    stopped = mas("batch", str(crew), "--inputs", str(items), "--max-llm-calls", "5", "-q")
    assert stopped.exit_code == 3, stopped.stderr
    (folder,) = (clean_env / "batches").iterdir()
    assert mas("resume", folder.name, "--max-llm-calls", "100", "-q").exit_code == 0
    spent = json.loads((folder / "batch.json").read_text())["cost_usd"]
    runs = json.loads(mas("runs", "--json", "--limit", "50").stdout)
    assert len(runs) > 4  # some items ran twice: stopped, then resumed
    assert spent == pytest.approx(sum(r["cost_usd"] for r in runs))
    report = json.loads(mas("cost-report", "--batch", folder.name, "--json").stdout)
    assert report["total"]["cost_usd"] == pytest.approx(spent)
    assert len(report["runs"]) == len(runs)
    assert json.loads(mas("show", folder.name, "--json").stdout)["cost_usd"] == pytest.approx(spent)
    gate = mas("cost-report", "--batch", folder.name, "--fail-over", str(spent * 0.99))
    assert gate.exit_code == 1, gate.stderr


def test_a_tampered_batch_json_is_shown_as_text(batch: Path) -> None:
    info = json.loads((batch / "batch.json").read_text())
    info["started"], info["finished"] = "[/bold]", "\x1b]0;pwned\x07"
    (batch / "batch.json").write_text(json.dumps(info))
    result = mas("show", batch.name)
    assert result.exit_code == 0, result.stderr
    assert "started [/bold] · finished \\x1b]0;pwned\\x07" in result.stdout


def test_triage_loops_takes_a_batch(batch: Path) -> None:
    result = mas("triage", "loops", "--batch", batch.name, "--json")
    assert result.exit_code in (0, 1), result.stderr
    assert json.loads(result.stdout)["records"] > 0
    nothing = mas("triage", "loops")
    assert nothing.exit_code == 2
    assert "--batch" in nothing.stderr


def test_a_batch_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["runs", "--batch", "b-nope"], ["show", "--batch", "b-nope"]):
        result = mas(*args)
        assert result.exit_code == 2
        assert "no batches under" in result.stderr


LOOPING = """
    name: pinger
    inputs:
      item: {description: The item}
    models:
      m: {provider: offline, model: gpt-4o-mini}
    tools:
      ping: {function: tools.py:ping}
    agents:
      a:
        role: Pinger
        model: m
        tools: [ping]
        script:
          repeat: true
          turns: [{tool_calls: [{name: ping, arguments: {}}]}]
    tasks:
      - {id: answer, agent: a, prompt: "Answer {item}."}
"""
PING = '''
def ping() -> str:
    """Answer pong."""
    return "pong"
'''


def test_show_names_the_items_that_looped(tmp_path: Path, clean_env: Path) -> None:
    crew = write_crew(tmp_path / "pinger", LOOPING, tools__py=PING)
    items = tmp_path / "items.jsonl"
    items.write_text('{"item": "a"}\n{"item": "b"}\n', encoding="utf-8")
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 1, result.stderr
    doc = json.loads(mas("show", "--last-batch", "--json").stdout)
    assert doc["by_status"] == {"stopped": 2}
    assert len(doc["looped"]) == 2
    assert all("stopped:" in item["error"] for item in doc["looped"])
    drawn = mas("show", "--last-batch")
    assert "items that looped" in drawn.stdout
