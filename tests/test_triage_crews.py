"""Round trip: every example crew run offline, then triaged; and the crew as part of an agent.

EXPECTED is the one table to extend: per crew, the findings its offline run must get, as
(detector, agent) pairs, no more and no fewer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "delegation-ping-pong": {("limit_hit", "lead"), ("ping_pong", "lead"), ("ping_pong", "dev")},
    "docs-desk": set(),
    "fraud-review": set(),
    "hierarchical-report": set(),
    "research-pipeline": set(),
    "runaway-rescoring": {
        ("limit_hit", "scorer"),
        ("cycle", "scorer"),
        ("cycle", "critic"),
        ("cycle", "judge"),
    },
    "support-ticket": set(),
}
runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home with one offline run of every crew in crews/."""
    home = tmp_path_factory.mktemp("home")
    for crew in sorted((ROOT / "crews").glob("*/crew.yaml")):
        result = runner.invoke(app, ["run", str(crew), "--offline", "--home", str(home), "-q"])
        assert result.exit_code in (0, 3), result.output
    return home


def runs(home: Path) -> dict[str, Path]:
    """Each crew's events.jsonl, by crew name."""
    logs = {}
    for log in (home / "runs").glob("*/events.jsonl"):
        first = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
        logs[first["crew"]] = log
    return logs


def triage(*logs: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["triage", "loops", *map(str, logs), "--json"])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_every_crew_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(p.parent.name for p in (ROOT / "crews").glob("*/crew.yaml"))


@pytest.mark.parametrize("crew", sorted(EXPECTED))
def test_each_crew_run_offline_gets_its_findings(home: Path, crew: str) -> None:
    report = triage(runs(home)[crew])
    found = {
        (f["detector"], agent)
        for f in report["findings"]
        for agent in (f["where"]["agents"] or [f["where"]["agent"]])
    }
    assert found == EXPECTED[crew]
    assert {f["where"]["crew"] for f in report["findings"]} <= {crew}


def test_agents_of_different_crews_that_share_a_name_stay_apart(home: Path) -> None:
    logs = runs(home)
    both = [logs["fraud-review"], logs["runaway-rescoring"]]
    report = triage(*both)
    scorers = sorted(a["crew"] for a in report["agents"] if a["agent"] == "scorer")
    assert scorers == ["fraud-review", "runaway-rescoring"]
    [hit] = [f for f in report["findings"] if f["detector"] == "limit_hit"]
    assert (hit["where"]["crew"], hit["where"]["agent"]) == ("runaway-rescoring", "scorer")
    scorer = next(a for a in report["agents"] if a["agent"] == "scorer" and a["findings"])
    assert scorer["crew"] == "runaway-rescoring"
    table = runner.invoke(app, ["triage", "loops", *map(str, both)]).stdout
    assert "fraud-review/scorer" in table
    assert "runaway-rescoring/scorer" in table
    assert "crew runaway-rescoring · agent scorer" in table
    alone = runner.invoke(app, ["triage", "loops", str(logs["fraud-review"])]).stdout
    assert "fraud-review/" not in alone  # one crew: plain agent names


def test_cost_report_keeps_each_crews_agents_apart(home: Path) -> None:
    logs = runs(home)
    both = [str(logs["fraud-review"]), str(logs["runaway-rescoring"])]
    result = runner.invoke(app, ["cost-report", *both, "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["agent"]: row for row in json.loads(result.stdout)["rows"]}
    assert {"fraud-review/scorer", "runaway-rescoring/scorer"} <= set(rows)
    assert "scorer" not in rows
    assert rows["runaway-rescoring/scorer"]["llm_calls"] == 4
    one = runner.invoke(app, ["cost-report", str(logs["fraud-review"]), "--json"])
    assert "scorer" in {row["agent"] for row in json.loads(one.stdout)["rows"]}
    by_model = runner.invoke(app, ["cost-report", *both, "--by", "model", "--json"])
    assert "/" not in "".join(row["model"] for row in json.loads(by_model.stdout)["rows"])
