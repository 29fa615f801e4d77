"""`mas cost-report` through the CLI runner: formats, --compare, across runs, CI gates, exits."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cost_logs import Log, cheap_run, priced_run
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.cost.history import parse_since

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
BASE = "20261120T100000000-aaaaaa"
NEW = "20261121T100000000-bbbbbb"


def squeeze(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_table_by_agent_with_totals_shares_and_the_cache(clean_env: Path) -> None:
    priced_run(clean_env).finish()
    result = runner.invoke(app, ["cost-report", "--last"])
    assert (result.exit_code, result.stderr) == (0, "")
    lines = squeeze(result.stdout)
    assert lines[0] == (
        f"demo · run {BASE} · ok · 1.50s · prices genai-prices 0.2.3 · self-check ok · by agent"
    )
    assert lines[1].startswith("agent calls input cached cache write output cost share retries")
    assert (
        lines[2] == "analyzer 3 11,000 4,000 0 600 $0.001710 3.4% 1 $0.000210 1 $0.001710 2 1 0.50s"
    )
    assert lines[3] == (
        "aggregator 1 37,000 30,000 5,000 1,000 $0.048750 96.6% 0 $0 1 $0.048750 1 1 1.25s"
    )
    assert (
        lines[4]
        == "total 4 48,000 34,000 5,000 1,600 $0.050460 100.0% 1 $0.000210 2 $0.025230 3 2 1.75s"
    )
    assert (
        lines[5]
        == "tool cache: 2 of 3 tool calls answered from the cache, 1.75s of tool time saved"
    )


def test_json_keeps_exact_figures(clean_env: Path) -> None:
    priced_run(clean_env, unknown=True).finish()
    doc = json.loads(runner.invoke(app, ["cost-report", BASE[:10], "--json"]).stdout)
    assert doc["total"]["cost_usd"] is None
    assert doc["total"]["known_cost"] == 0.05046
    assert doc["runs"][0]["self_check"] == "ok"
    assert [r["agent"] for r in doc["rows"]] == ["analyzer", "aggregator", "helper"]
    assert doc["flags"][0].startswith("unknown cost: 1 of 5 model calls (llama3.1:8b)")


def test_csv_has_raw_numbers_and_flags_on_stderr(clean_env: Path) -> None:
    path = priced_run(clean_env, unknown=True).finish()
    result = runner.invoke(app, ["cost-report", str(path), "--by", "model", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["model"], r["cost"]) for r in rows] == [
        ("gpt-4o-mini", "0.00171"),
        ("claude-sonnet-4-5", "0.04875"),
        ("llama3.1:8b", ""),
        ("total", ""),
    ]
    assert "unknown cost" in result.stderr


def test_markdown_is_a_table_with_notes(clean_env: Path) -> None:
    priced_run(clean_env).kill()
    result = runner.invoke(app, ["cost-report", "--format", "md", "--by", "tool"])
    lines = result.stdout.splitlines()
    assert lines[2:4] == [
        "| tool | calls | cache hits | tool time | saved |",
        "|:---|---:|---:|---:|---:|",
    ]
    assert "| lookup | 2 | 1 | 0.50s | 0.50s |" in lines
    assert "| **total** | **3** | **2** | **0.50s** | **1.75s** |" in lines
    assert any(line.startswith("> ⚠ not finished: the log has no run_finished") for line in lines)


def test_a_killed_run_says_so_and_exits_0(clean_env: Path) -> None:
    priced_run(clean_env).kill()
    result = runner.invoke(app, ["cost-report"])
    assert result.exit_code == 0
    assert "· not finished · no totals to check · by agent" in result.stdout
    assert "! not finished: the log has no run_finished (killed, or still running)" in result.stdout


def test_compare_side_by_side_with_changes(clean_env: Path) -> None:
    priced_run(clean_env, BASE).finish()
    log = priced_run(clean_env, NEW)
    log.llm(
        "aggregator",
        "decide",
        "claude-sonnet-4-5",
        "0.04875",
        input_tokens=37_000,
        output_tokens=1_000,
    )
    log.finish()
    result = runner.invoke(app, ["cost-report", NEW, "--compare", BASE])
    assert result.exit_code == 0, result.stderr
    lines = squeeze(result.stdout)
    assert lines[0] == f"{NEW} compared with {BASE} · by agent"
    assert lines[1] == (
        "agent cost aaaaaa cost bbbbbb change change % calls before calls after tokens before "
        "tokens after tokens %"
    )
    assert lines[2] == "analyzer $0.001710 $0.001710 $0 +0.0% 3 3 11,600 11,600 +0.0%"
    assert lines[3] == "aggregator $0.048750 $0.097500 +$0.0488 +100.0% 1 2 38,000 76,000 +100.0%"
    assert lines[4] == "total $0.050460 $0.099210 +$0.0488 +96.6% 4 5 49,600 87,600 +76.6%"
    doc = json.loads(runner.invoke(app, ["cost-report", NEW, "--compare", BASE, "--json"]).stdout)
    assert doc["total"]["cost_change_usd"] == 0.04875
    assert doc["before_runs"] == [BASE]


def test_across_runs_spend_per_crew_per_day(clean_env: Path) -> None:
    cheap_run(clean_env, "20261118T090000000-000001", "0.5", crew="alpha", day="2026-11-18")
    cheap_run(clean_env, "20261120T090000000-000002", "0.25", crew="alpha", day="2026-11-20")
    cheap_run(clean_env, "20261120T100000000-000003", "1", crew="beta", day="2026-11-20")
    Log(clean_env, "20261120T110000000-000004", crew="beta", day="2026-11-20").kill()
    result = runner.invoke(app, ["cost-report", "--all"])
    assert result.exit_code == 0, result.stderr
    lines = squeeze(result.stdout)
    assert lines[0] == "spend per crew per day · 4 runs"
    assert lines[2] == "2026-11-18 alpha 1 1 1,100 $0.50 " + "█" * 15
    assert lines[3] == "2026-11-20 alpha 1 1 1,100 $0.25 " + "█" * 8
    assert lines[4] == "2026-11-20 beta 2 1 1,100 $1.00 " + "█" * 30
    assert lines[5] == "total 4 3 3,300 $1.75"
    assert "! 1 run never finished (killed, or still running)" in lines

    only_beta = runner.invoke(app, ["cost-report", "--crew", "beta", "--json"])
    assert json.loads(only_beta.stdout)["total"]["cost_usd"] == 1.0
    since = runner.invoke(app, ["cost-report", "--since", "2026-11-19", "--format", "csv"])
    assert [r["cost"] for r in csv.DictReader(io.StringIO(since.stdout))] == ["0.25", "1.0", "1.25"]


def test_since_spans_and_dates() -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)


def test_fail_over_gate(clean_env: Path) -> None:
    cheap_run(clean_env, BASE, "0.75")
    ok = runner.invoke(app, ["cost-report", "--fail-over", "1"])
    assert ok.exit_code == 0
    assert "✓ fail-over: cost $0.75 is within --fail-over $1.00" in ok.stderr
    over = runner.invoke(app, ["cost-report", "--fail-over", "0.50", "--json"])
    assert over.exit_code == 1
    assert json.loads(over.stdout)["total"]["cost_usd"] == 0.75
    assert "✗ gate tripped: fail-over: cost $0.75 is over --fail-over $0.50" in over.stderr
    across = runner.invoke(app, ["cost-report", "--all", "--fail-over", "0.7"])
    assert across.exit_code == 1


def test_fail_over_cannot_pass_an_unknown_cost(clean_env: Path) -> None:
    priced_run(clean_env, unknown=True).finish()
    result = runner.invoke(app, ["cost-report", "--fail-over", "100"])
    assert result.exit_code == 1
    assert "cost unknown (at least $0.05046): cannot check --fail-over" in result.stderr


def test_baseline_max_increase_gate(clean_env: Path) -> None:
    cheap_run(clean_env, BASE, "0.40")
    cheap_run(clean_env, NEW, "0.46")
    within = runner.invoke(app, ["cost-report", NEW, "--baseline", BASE, "--max-increase", "20"])
    assert within.exit_code == 0, within.stderr
    assert f"cost $0.46 vs $0.40 in baseline {BASE}: +15.0%, within --max-increase 20%" in (
        within.stderr
    )
    over = runner.invoke(
        app, ["cost-report", "--last", "--baseline", BASE, "--max-increase", "10%"]
    )
    assert over.exit_code == 1
    assert "+15.0%, over --max-increase 10%" in over.stderr


def test_crew_names_in_the_crews_differ_warning_are_text_not_markup(clean_env: Path) -> None:
    cheap_run(clean_env, BASE, "0.40", crew="[/bold][link=https://x.test]a")
    cheap_run(clean_env, NEW, "0.46")
    for flags in (["--compare", BASE], ["--baseline", BASE, "--max-increase", "20"]):
        result = runner.invoke(app, ["cost-report", NEW, *flags])
        assert result.exit_code == 0, result.stderr
        assert "internal error" not in result.stderr
        said = f"{flags[0]} {BASE} is a run of crew [/bold][link=https://x.test]a, not demo"
        assert said in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", BASE], "--baseline and --max-increase go together"),
        (["--fail-over", "lots"], "--fail-over 'lots' is not a number"),
        (["--fail-over", "-1"], "--fail-over must be a number of at least 0"),
        (["--since", "last week"], "--since 'last week' is not a span or a date"),
        (["--all", "--compare", BASE], "--all, --crew and --since report across runs"),
        (["nope"], "no run matching 'nope'"),
        (["--by", "agnet"], "Invalid value for '--by'"),
    ],
)
def test_bad_arguments_exit_2(clean_env: Path, args: list[str], message: str) -> None:
    cheap_run(clean_env, BASE, "0.1")
    result = runner.invoke(app, ["cost-report", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_no_runs_says_how_to_make_one(clean_env: Path) -> None:
    result = runner.invoke(app, ["cost-report"])
    assert result.exit_code == 2
    assert "no runs under" in result.stderr
    assert "mas run CREW.yaml --offline" in result.stderr


def test_report_on_a_real_offline_run_checks_itself(clean_env: Path) -> None:
    crew = str(ROOT / "crews/fraud-review/crew.yaml")
    assert runner.invoke(app, ["run", crew, "--offline", "--quiet"]).exit_code == 0
    doc = json.loads(runner.invoke(app, ["cost-report", "--last", "--json"]).stdout)
    (run,) = doc["runs"]
    assert (run["self_check"], run["offline"]) == ("ok", True)
    assert run["price_data_version"].startswith("genai-prices 0.2.")
    assert doc["total"]["cost_usd"] > 0
    assert {r["agent"] for r in doc["rows"]} == {"analyzer", "scorer", "aggregator"}


def test_a_line_break_in_a_name_cannot_forge_a_row(clean_env: Path) -> None:
    log = Log(clean_env, BASE, crew="demo\nforged")
    log.llm("a\ntotal 999", "analyze", "gpt-4o-mini", "0.40", input_tokens=10, output_tokens=1)
    log.finish()
    for fmt in ("table", "md"):
        result = runner.invoke(app, ["cost-report", BASE, "--format", fmt])
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert not [
            line for line in lines if line.lstrip("|* ").startswith(("total 999", "forged"))
        ]
        assert "a\\ntotal 999" in result.stdout
        assert "demo\\nforged" in result.stdout


def test_a_gzipped_log_reads_as_the_log_and_a_cut_one_says_what_was_read(
    clean_env: Path, tmp_path: Path
) -> None:
    """An archived run (`events.jsonl.gz`) was read as raw bytes: cost-report said "not
    finished" with no calls, and show called the run killed."""
    import gzip

    crew = str(ROOT / "crews/fraud-review/crew.yaml")
    assert runner.invoke(app, ["run", crew, "--offline", "--quiet"]).exit_code == 0
    (log,) = clean_env.glob("runs/*/events.jsonl")
    packed = log.with_name("events.jsonl.gz")
    packed.write_bytes(gzip.compress(log.read_bytes()))
    plain = json.loads(runner.invoke(app, ["cost-report", str(log), "--json"]).stdout)
    unpacked = json.loads(runner.invoke(app, ["cost-report", str(packed), "--json"]).stdout)
    assert unpacked["runs"][0]["self_check"] == "ok"
    assert unpacked["total"] == plain["total"]
    assert unpacked["rows"] == plain["rows"]
    shown = runner.invoke(app, ["show", str(packed)])
    assert shown.exit_code == 0
    assert shown.stdout == runner.invoke(app, ["show", str(log)]).stdout
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed.read_bytes()[: len(packed.read_bytes()) // 2])
    report = runner.invoke(app, ["cost-report", str(cut), "--json"])
    assert report.exit_code == 0, report.stderr
    (run,) = json.loads(report.stdout)["runs"]
    assert run["finished"] is False
    assert run["skipped_lines"] == 1  # the cut, counted once, never a traceback
    assert 0 < json.loads(report.stdout)["total"]["llm_calls"] < plain["total"]["llm_calls"]
