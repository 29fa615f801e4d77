"""The cost report as a pure function over hand-priced logs: exact totals, rows and flags."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from cost_logs import Log, priced_run

from mas_cli.cost.report import cost_report
from mas_cli.cost.tally import Tally

D = Decimal


def test_totals_are_exact_dollars(tmp_path: Path) -> None:
    report = cost_report([priced_run(tmp_path).finish()])
    t = report.total
    assert t.cost == D("0.05046")  # 0.0015 + 0 + 0.00021 + 0.04875
    assert (t.llm_calls, t.failed_calls, t.retries, t.retry_cost) == (4, 1, 1, D("0.00021"))
    assert (t.input_tokens, t.cache_read_tokens, t.cache_write_tokens) == (48_000, 34_000, 5_000)
    assert t.output_tokens == 1_600
    assert (t.tool_calls, t.cache_hits, t.saved_s) == (3, 2, 1.75)
    assert t.cost_per_task == D("0.02523")
    (run,) = report.runs
    assert (run.finished, run.mismatches, run.price_data_version) == (
        True,
        [],
        "genai-prices 0.2.3",
    )
    assert report.flags() == []


def test_rows_by_agent_task_model_and_tool(tmp_path: Path) -> None:
    log = priced_run(tmp_path).finish()

    def costs(by: str) -> dict[str, Decimal | None]:
        return {k: t.cost for k, t in cost_report([log], by).rows.items()}  # type: ignore[arg-type]

    assert costs("agent") == {"analyzer": D("0.00171"), "aggregator": D("0.04875")}
    assert costs("task") == {"analyze": D("0.00171"), "decide": D("0.04875")}
    assert costs("model") == {"gpt-4o-mini": D("0.00171"), "claude-sonnet-4-5": D("0.04875")}
    by_tool = cost_report([log], "tool").rows
    assert {k: (t.tool_calls, t.cache_hits, t.saved_s) for k, t in by_tool.items()} == {
        "lookup": (2, 1, 0.5),
        "search": (1, 1, 1.25),
    }
    by_model = cost_report([log], "model").rows
    # tool calls count under the model of the turn that asked for them
    assert by_model["gpt-4o-mini"].tool_calls == 2
    assert by_model["claude-sonnet-4-5"].cache_hits == 1


def test_an_unknown_price_makes_the_cost_unknown_and_is_flagged(tmp_path: Path) -> None:
    report = cost_report([priced_run(tmp_path, unknown=True).finish()])
    assert report.total.cost is None
    assert report.total.known_cost == D("0.05046")
    assert report.rows["helper"].cost is None
    assert report.runs[0].mismatches == []  # run_finished said unknown too
    (flag,) = report.flags()
    assert flag.startswith("unknown cost: 1 of 5 model calls (llama3.1:8b) have no price")
    assert report.to_json()["total"]["cost_usd"] is None


def test_estimated_usage_and_offline_runs_are_flagged(tmp_path: Path) -> None:
    log = Log(tmp_path, "r1", offline=True)
    log.llm("a", "t", "gpt-4o-mini", "0.00015", input_tokens=1_000, usage_source="estimate")
    flags = cost_report([log.finish()]).flags()
    assert flags[0].startswith("offline run: costs are what the configured models would charge")
    assert flags[1].startswith("estimated usage: 1 of 1 model calls")


def test_a_total_that_does_not_add_up_is_flagged(tmp_path: Path) -> None:
    report = cost_report([priced_run(tmp_path).finish(cost_usd=0.05, input_tokens=1)])
    assert [(m.field, m.logged, m.recomputed) for m in report.runs[0].mismatches] == [
        ("input_tokens", "1", "48000"),
        ("cost_usd", "0.05", "0.05046"),
    ]
    assert "self-check failed: run_finished says cost_usd 0.05, the events add up to 0.05046" in (
        report.flags()
    )


def test_a_killed_run_is_reported_from_its_events(tmp_path: Path) -> None:
    report = cost_report([priced_run(tmp_path).kill()])
    assert report.total.cost == D("0.05046")
    run = report.runs[0]
    assert (run.finished, run.status) == (False, "not finished")
    assert report.flags()[0].startswith("not finished: the log has no run_finished")
    assert report.to_json()["runs"][0]["self_check"] == "not finished"


def test_a_log_cut_mid_line_is_read_up_to_the_cut(tmp_path: Path) -> None:
    path = priced_run(tmp_path).kill()
    path.write_bytes(path.read_bytes() + b'{"v":1,"type":"llm_call","cost_us')
    report = cost_report([path])
    assert report.total.cost == D("0.05046")
    assert f"1 unreadable line skipped ({path}:9: Input data was truncated)" in report.flags()


def test_several_runs_add_up(tmp_path: Path) -> None:
    one = priced_run(tmp_path, "20261120T100000000-aaaaaa").finish()
    two = priced_run(tmp_path, "20261121T100000000-bbbbbb").finish()
    report = cost_report([one, two])
    assert report.total.cost == D("0.10092")
    assert report.rows["analyzer"].llm_calls == 6
    assert len(report.rows["analyzer"].tasks) == 2  # the same task id in two runs


def test_tally_json_uses_numbers_and_null() -> None:
    tally = Tally(known_cost=D("0.1"), unpriced_calls=0)
    assert tally.to_json()["cost_usd"] == 0.1
    tally.unpriced_calls = 1
    assert tally.to_json()["cost_usd"] is None


@pytest.mark.parametrize("calls", [400, 4_000])
def test_reading_streams_so_memory_does_not_grow_with_the_log(tmp_path: Path, calls: int) -> None:
    log = Log(tmp_path, f"r{calls}")
    for i in range(calls):
        log.llm(f"agent{i % 3}", f"task{i % 5}", "gpt-4o-mini", "0.000123", input_tokens=900)
        log.tool(f"agent{i % 3}", f"task{i % 5}", "lookup", cached=bool(i % 2), saved_s=0.1)
    path = log.finish()
    tracemalloc.start()
    report = cost_report([path], "task")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.total.cost == D("0.000123") * calls
    assert report.total.cache_hits == calls // 2
    # ~20 kB whatever the size (the 4,000-call log is 2.5 MB): events are counted, never kept.
    assert peak < 100_000, peak


def test_a_warning_many_runs_share_is_said_once_with_how_many(tmp_path: Path) -> None:
    # a batch of offline runs: one line for the offline warning, one for the total's usage
    logs = []
    for n in range(5):
        log = Log(tmp_path, f"r{n}", offline=True)
        log.llm("a", "t", "gpt-4o-mini", "0.00015", input_tokens=1_000, usage_source="estimate")
        logs.append(log.finish())
    flags = cost_report(logs).flags()
    assert len(flags) == 2, flags
    assert flags[0].startswith("5 runs (")
    assert "offline run: costs are" in flags[0]
    assert flags[1].startswith("estimated usage: 5 of 5 model calls")
