"""`mas triage loops --batch`: a batch runs its items at once, so an agent of the crew is
invoked as often as items are in flight. The rate check judges each item's run alone: a run
that invokes an agent too fast is named, a batch of well-behaved runs is not."""

from __future__ import annotations

import json
from pathlib import Path

from crewkit import ECHO_CREW, write_crew
from triage_logs import jsonl, mas_event, run
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.triage.scan import ScanOptions, scan


def _logs(tmp_path: Path, starts: list[int]) -> list[str]:
    """One log per run, each starting agent critic `count` times in the same minute."""
    paths = []
    tmp_path.mkdir(exist_ok=True)
    for i, count in enumerate(starts):
        events = [mas_event("task_started", n, agent="critic", task=f"t{n}") for n in range(count)]
        path = tmp_path / f"run{i}.jsonl"
        path.write_text(jsonl(run(*events)))
        paths.append(str(path))
    return paths


def _rates(paths: list[str], *, per_source: bool) -> list[str]:
    report = scan(paths, ScanOptions(rates_per_source=per_source))
    return [f.message for f in report.findings if f.detector == "rate"]


def test_runs_at_once_are_judged_each_alone(tmp_path: Path) -> None:
    calm = _logs(tmp_path, [6, 6])  # 12 together in one minute, 6 each
    assert _rates(calm, per_source=False)  # as one stream: one agent too fast
    assert _rates(calm, per_source=True) == []
    (hit,) = _rates(_logs(tmp_path / "x", [6, 11, 6]), per_source=True)
    assert "invoked 11 times in the minute" in hit  # the run that did loop is still named


def test_triage_loops_batch_flags_no_rate_for_items_in_flight(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"item": f"x{n}"}) + "\n" for n in range(30)))
    cli = CliRunner()
    ran = cli.invoke(app, ["batch", str(crew), "--inputs", str(items), "-c", "30", "-q",
                           "--offline", "--home", str(home)])  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    found = cli.invoke(app, ["triage", "loops", "--last-batch", "--json", "--home", str(home)])
    assert found.exit_code == 0, found.stdout
    report = json.loads(found.stdout)
    assert [f for f in report["findings"] if f["detector"] == "rate"] == []
