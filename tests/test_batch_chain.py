"""An item of a batch resumed by hand (`mas resume RUN_ID`) is not resumed again from the run
before: what the hand resume did (side effects, spend) is not in that run's chain. The batch
goes on from the last run of the item's chain, and a hand resume in flight is not doubled."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

SENDS = """
    name: sends
    inputs:
      item: {description: The item}
    models:
      m: offline
    tools:
      send: {function: sent.py:send, kind: side_effect}
    agents:
      a:
        role: Sender
        model: m
        tools: [send]
        script:
          - {tool_calls: [{name: send, arguments: {body: first}}]}
          - {text: "first sent"}
      b:
        role: Sender
        model: m
        tools: [send]
        script:
          - {tool_calls: [{name: send, arguments: {body: second}}]}
          - {text: "second sent"}
    tasks:
      - {id: one, agent: a, prompt: "Send {item}."}
      - {id: two, agent: b, prompt: "Send {item} again."}
"""

SENT_PY = '''
from pathlib import Path

def send(body: str) -> str:
    """Send a message (every call sends it: this one does not honour a key)."""
    with Path(__file__).with_name("sent.txt").open("a", encoding="utf-8") as f:
        f.write(body + "\\n")
    return "sent"
'''


def mas(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--home", str(home)])


def stopped_item(tmp_path: Path, spec: str = SENDS) -> tuple[Path, Path, str, str]:
    """A batch of one item stopped by its budget after task one: crew, home, batch, run."""
    crew = write_crew(tmp_path / "crew", spec, sent__py=SENT_PY)
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"item": "x"}) + "\n")
    home = tmp_path / "home"
    done = mas(home, "batch", str(crew), "--inputs", str(items), "--max-llm-calls", "2", "-q")
    assert done.exit_code == 3, done.stderr
    (batch,) = (home / "batches").iterdir()
    (run,) = (home / "runs").iterdir()
    return crew, home, batch.name, run.name


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sent(crew: Path) -> list[str]:
    return (crew.parent / "sent.txt").read_text().split()


def test_an_item_resumed_by_hand_goes_on_from_that_resume(tmp_path: Path) -> None:
    crew, home, batch, first = stopped_item(tmp_path)
    assert sent(crew) == ["first"]
    by_hand = mas(home, "resume", first, "-q")
    assert by_hand.exit_code == 0, by_hand.stderr
    assert sent(crew) == ["first", "second"]
    resumed = mas(home, "resume", batch, "--max-llm-calls", "10", "-q")
    assert resumed.exit_code == 0, resumed.stderr
    assert sent(crew) == ["first", "second"]  # nothing sent again
    last = jsonl(home / "batches" / batch / "results.jsonl")[-1]
    assert last["status"] == "ok"


def calls_made(home: Path) -> int:
    """Model calls made (not replayed) by every run under the home."""
    logs = sorted((home / "runs").glob("*/events.jsonl"))
    made = [e for log in logs for e in jsonl(log) if e["type"] == "llm_call"]
    return sum(1 for e in made if not e.get("replayed"))


def made_cost(home: Path) -> float:
    """What the model calls made (not replayed) by every run under the home cost."""
    logs = sorted((home / "runs").glob("*/events.jsonl"))
    made = [e for log in logs for e in jsonl(log) if e["type"] == "llm_call"]
    return sum(e["cost_usd"] for e in made if not e.get("replayed"))


def hand_resumed_item(tmp_path: Path) -> tuple[Path, str, str, str]:
    """A priced batch of one item stopped after task one, then resumed by hand to its end:
    home, batch, the item's first run, its hand resume."""
    priced = SENDS.replace("m: offline", "m: {provider: offline, model: gpt-4o-mini}")
    _crew, home, batch, first = stopped_item(tmp_path, priced)
    assert mas(home, "resume", first, "-q").exit_code == 0  # task two: 2 calls, then ok
    (by_hand,) = {p.name for p in (home / "runs").iterdir()} - {first}
    return home, batch, first, by_hand


def test_the_batch_budget_counts_what_a_hand_resume_of_its_item_spent(tmp_path: Path) -> None:
    # The batch counted the runs that name it; a hand resume of an item's run names no batch,
    # so what it spent was left out, and the next pass spent past the budget.
    crew = write_crew(tmp_path / "crew", SENDS, sent__py=SENT_PY)
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"item": "x"}) + "\n" + json.dumps({"item": "y"}) + "\n")
    home = tmp_path / "home"
    argv = ["batch", str(crew), "--inputs", str(items), "-c", "1", "--max-llm-calls", "2", "-q"]
    assert mas(home, *argv).exit_code == 3  # x stopped after task one; y never started
    (batch,) = (home / "batches").iterdir()
    (first,) = (home / "runs").iterdir()
    assert mas(home, "resume", first.name, "-q").exit_code == 0  # x's task two: 2 calls more
    assert calls_made(home) == 4
    resumed = mas(home, "resume", batch.name, "--max-llm-calls", "5", "-q")
    assert resumed.exit_code == 3, resumed.stderr
    assert calls_made(home) <= 5


def test_an_item_whose_run_is_being_resumed_by_hand_is_not_resumed_beside_it(
    tmp_path: Path,
) -> None:
    crew, home, batch, first = stopped_item(tmp_path)
    fd = os.open(home / "runs" / first, os.O_RDONLY)  # the lock `mas resume RUN_ID` holds
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        resumed = mas(home, "resume", batch, "--max-llm-calls", "10", "-q")
    finally:
        os.close(fd)
    assert sent(crew) == ["first"]  # neither resumed beside it nor run afresh
    assert resumed.exit_code == 1, resumed.stderr
    folder = home / "batches" / batch
    dead = jsonl(folder / "dead.jsonl")[-1]
    assert f"run {first} is being resumed by another mas process" in dead["reason"]


def test_an_item_whose_last_run_is_running_is_not_run_afresh_beside_it(tmp_path: Path) -> None:
    # The hand resume's own run was in flight: the batch found it "still running", took that
    # for a run it could not resume, and ran the item afresh: every side effect made again.
    crew, home, batch, first = stopped_item(tmp_path)
    fd = os.open(home / "runs" / first / "run.lock", os.O_RDWR)  # a live process runs it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        resumed = mas(home, "resume", batch, "--max-llm-calls", "10", "-q")
    finally:
        os.close(fd)
    assert sent(crew) == ["first"]
    assert resumed.exit_code == 1, resumed.stderr
    dead = jsonl(home / "batches" / batch / "dead.jsonl")[-1]
    assert f"run {first} of this item is still running" in dead["reason"]


def test_the_reports_of_a_batch_no_item_of_which_has_ended_say_so(tmp_path: Path) -> None:
    # cost-report and triage said the runs "may have been pruned" of a batch just started.
    crew = write_crew(tmp_path / "crew", SENDS, sent__py=SENT_PY)
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"item": "x"}) + "\n")
    home = tmp_path / "home"
    assert mas(home, "batch", str(crew), "--inputs", str(items), "-q").exit_code == 0
    (folder,) = (home / "batches").iterdir()
    (folder / "results.jsonl").write_text("")  # as it is before the first item's run began
    shutil.rmtree(next((home / "runs").iterdir()))  # (a run in flight is reported, as counted)
    info = json.loads((folder / "batch.json").read_text())
    (folder / "batch.json").write_text(json.dumps({**info, "status": "running"}))
    fd = os.open(folder / "batch.lock", os.O_RDWR)  # the process running the batch
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        reports = [
            mas(home, "cost-report", "--batch", folder.name),
            mas(home, "triage", "loops", "--batch", folder.name),
        ]
    finally:
        os.close(fd)
    for report in reports:
        assert report.exit_code == 2
        assert (
            f"batch {folder.name} has no finished item yet (it is still running)" in report.stderr
        )
        assert "pruned" not in report.stderr


def test_the_batch_reports_count_a_hand_resume_of_an_item(tmp_path: Path) -> None:
    # The budget counted a hand resume of an item's run; runs --batch, show BATCH and
    # cost-report --batch read results.jsonl alone: its calls, cost and status were missing.
    home, batch, first, by_hand = hand_resumed_item(tmp_path)
    items = json.loads(mas(home, "runs", "--batch", batch, "--json").stdout)
    assert [(i["run_id"], i["status"]) for i in items] == [(by_hand, "ok")]
    shown = json.loads(mas(home, "show", batch, "--json").stdout)
    assert shown["by_status"] == {"ok": 1}
    report = json.loads(mas(home, "cost-report", "--batch", batch, "--json").stdout)
    assert sorted(r["run_id"] for r in report["runs"]) == sorted([first, by_hand])
    made = calls_made(home)  # what the budget counts: every call the item's runs made
    assert report["total"]["llm_calls"] == made == 4
    assert shown["cost_usd"] == round(made_cost(home), 8) > 0
    assert report["total"]["cost_usd"] == shown["cost_usd"]


def test_export_and_view_of_a_batch_follow_a_hand_resume_of_an_item(tmp_path: Path) -> None:
    # `mas export BATCH` and `mas view BATCH` read results.jsonl alone: the hand resume's trace
    # was not exported, and the page showed the item stopped, without that run or its cost.
    home, batch, first, by_hand = hand_resumed_item(tmp_path)
    exported = tmp_path / "batch.jsonl"
    done = mas(home, "export", batch, "--to", str(exported))
    assert done.exit_code == 0, done.stderr
    traces = {
        span["traceId"]
        for line in exported.read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    }
    runs = (first, by_hand)
    assert traces == {jsonl(home / "runs" / run / "events.jsonl")[0]["trace_id"] for run in runs}
    viewed = mas(home, "view", batch, "--no-open")
    assert viewed.exit_code == 0, viewed.stderr
    page = Path(viewed.stdout.strip()).read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="st-([^"]+)">.*?<a href="[^"]+">([^<]+)</a>', page)
    assert rows == [("stopped", first), ("ok", by_hand)]  # its hand resume, ok, beside it
    assert f"1 item · 2 runs · ${made_cost(home):.6f}" in page  # as the budget counts it
