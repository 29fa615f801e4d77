"""Every typo a new user makes gets an answer that says the fix (exit 2), not a quiet nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = str(ROOT / "crews/support-ticket/crew.yaml")
FRAUD = str(ROOT / "crews/fraud-review/crew.yaml")
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    where = tmp_path / "home"
    for crew in (SUPPORT, FRAUD):
        done = runner.invoke(app, ["run", crew, "--offline", "-q", "--home", str(where)])
        assert done.exit_code == 0, done.stderr
    return where


def test_cache_clear_of_a_misspelt_tool_says_which_it_meant(home: Path) -> None:
    done = runner.invoke(app, ["cache", "clear", "--tool", "serch", "--home", str(home)])
    assert done.exit_code == 2
    assert "no entries of tool 'serch' (did you mean 'search'?)" in done.stderr
    kept = runner.invoke(app, ["cache", "stats", "--home", str(home), "--json"])
    assert "search" in kept.stdout  # nothing was removed
    ok = runner.invoke(app, ["cache", "clear", "--tool", "search", "--home", str(home)])
    assert ok.exit_code == 0, ok.stderr


def test_cost_report_of_a_misspelt_crew_says_which_it_meant(home: Path) -> None:
    done = runner.invoke(app, ["cost-report", "--crew", "fraud-reveiw", "--home", str(home)])
    assert done.exit_code == 2
    assert "no runs of crew 'fraud-reveiw' (did you mean 'fraud-review'?)" in done.stderr
    ok = runner.invoke(app, ["cost-report", "--crew", "fraud-review", "--home", str(home)])
    assert ok.exit_code == 0, ok.stderr
    assert "1 run" in ok.stdout


@pytest.mark.parametrize(
    ("models", "model", "where"),
    [
        ("{fast: 'openia:gpt-4o-mini'}", "fast", "models.fast"),
        ("{}", "'openia:gpt-4o-mini'", "agents.a.model"),
    ],
)
def test_a_misspelt_provider_is_named(tmp_path: Path, models: str, model: str, where: str) -> None:
    crew = write_crew(
        tmp_path,
        f"""
name: typo
models: {models}
agents: {{a: {{role: R, model: {model}}}}}
tasks: [{{id: t, agent: a, prompt: hi}}]
""",
    )
    done = runner.invoke(app, ["validate", str(crew)])
    assert done.exit_code == 2
    assert f"{where}: " in done.stderr
    assert "unknown provider 'openia' (did you mean 'openai'?)" in done.stderr


def test_an_unknown_key_in_a_script_step_lists_the_keys(tmp_path: Path) -> None:
    crew = write_crew(
        tmp_path,
        """
name: typo
agents:
  a:
    role: R
    model: offline
    script:
      - txt: hello
      - {tool_calls: [{nam: search}]}
tasks: [{id: t, agent: a, prompt: hi}]
""",
    )
    done = runner.invoke(app, ["validate", str(crew)])
    assert done.exit_code == 2
    assert "script[0].txt: unknown key 'txt' (did you mean 'text'?" in done.stderr
    assert "one of text, data, tool_calls or error" in done.stderr
    assert "unknown key 'nam' (did you mean 'name'?)" in done.stderr


def test_replay_of_another_crews_run_is_refused_before_anything_runs(home: Path) -> None:
    listed = runner.invoke(app, ["runs", "--home", str(home), "--json", "--crew", "support-ticket"])
    other = listed.stdout.split('"run_id": "')[1].split('"')[0]
    before = sorted((home / "runs").iterdir())
    done = runner.invoke(app, ["run", FRAUD, "--replay", other, "--home", str(home)])
    assert done.exit_code == 2
    assert f"run {other} is a run of crew 'support-ticket', not 'fraud-review'" in done.stderr
    assert sorted((home / "runs").iterdir()) == before  # no failed run left behind


def test_cache_stats_lists_only_tools_that_can_be_cached(home: Path) -> None:
    runner.invoke(
        app, ["run", str(ROOT / "crews/runaway-rescoring/crew.yaml"), "--home", str(home)]
    )
    runner.invoke(
        app,
        [
            "run",
            str(ROOT / "crews/hierarchical-report/crew.yaml"),
            "--offline",
            "--home",
            str(home),
        ],
    )
    done = runner.invoke(app, ["cache", "stats", "--home", str(home), "--json"])
    assert done.exit_code == 0, done.stderr
    tools = {row["tool"] for row in json.loads(done.stdout)["tools"]}
    assert {"search", "lookup_account", "search_notes"} <= tools
    assert "request_rescore" not in tools  # a live tool: never cached
    assert "delegate" not in tools


def test_compare_and_baseline_across_crews_say_so(home: Path) -> None:
    rows = json.loads(runner.invoke(app, ["runs", "--home", str(home), "--json"]).stdout)
    ids = {r["crew"]: r["run_id"] for r in rows}
    fraud, support = ids["fraud-review"], ids["support-ticket"]
    compared = runner.invoke(app, ["cost-report", fraud, "--compare", support, "--home", str(home)])
    assert compared.exit_code == 0, compared.stderr
    said = f"--compare {support} is a run of crew support-ticket, not fraud-review"
    assert said in compared.stderr
    gated = runner.invoke(
        app,
        [
            "cost-report",
            fraud,
            "--baseline",
            support,
            "--max-increase",
            "1000000",
            "--home",
            str(home),
        ],
    )
    assert f"--baseline {support} is a run of crew support-ticket, not fraud-review" in gated.stderr
    same = runner.invoke(app, ["cost-report", fraud, "--compare", fraud, "--home", str(home)])
    assert "warning" not in same.stderr


BROKEN = """
name: broken
tools:
  lookup:
    function: tools.py:{func}
    kind: deterministic
    examples: [{{account_id: acct-1}}, {{acount_id: acct-2}}]
  search:
    command: [python, -c, "print(1)", "{{query}}"]
    parameters: {{query: {{type: string}}}}
    examples: [{{query: 7}}]
agents: {{a: {{role: R, model: offline, tools: [lookup, search]}}}}
tasks: [{{id: t, agent: a, prompt: hi}}]
"""
TOOLS = "import json\n{extra}\n\ndef lookup(account_id: str) -> dict:\n    return {{}}\n"


def _broken(tmp_path: Path, func: str = "lookup", extra: str = "") -> Path:
    (tmp_path / "tools.py").write_text(TOOLS.format(extra=extra), encoding="utf-8")
    crew = tmp_path / "crew.yaml"
    crew.write_text(BROKEN.format(func=func), encoding="utf-8")
    return crew


def test_validate_reports_a_broken_tool_import_with_its_line(tmp_path: Path) -> None:
    done = runner.invoke(app, ["validate", str(_broken(tmp_path, extra="import requestz"))])
    assert done.exit_code == 2
    assert "tools.lookup.function: cannot import tools.py: ModuleNotFoundError" in done.stderr
    assert "at tools.py:2" in done.stderr
    assert f"{tmp_path / 'crew.yaml'}:5:" in done.stderr  # where the crew file names it


def test_validate_reports_a_wrong_function_name(tmp_path: Path) -> None:
    done = runner.invoke(app, ["validate", str(_broken(tmp_path, func="lookup_acount"))])
    assert done.exit_code == 2
    assert "tools.lookup.function: tools.py has no function 'lookup_acount'" in done.stderr


def test_validate_checks_examples_against_the_tool_schema(tmp_path: Path) -> None:
    done = runner.invoke(app, ["validate", str(_broken(tmp_path))])
    assert done.exit_code == 2
    assert "tools.lookup.examples[1]: acount_id: unknown argument (expected: account_id)" in (
        done.stderr
    )
    assert "tools.lookup.examples[0]" not in done.stderr
    assert "tools.search.examples[0]: query: 7 is not of type 'string'" in done.stderr
