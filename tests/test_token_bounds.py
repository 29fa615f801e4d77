"""A token count that cannot be real (negative, past MAX_TOKENS, not a whole number) makes its
line a bad line in every reader: counted, skipped, named with file:line and why, never summed.
The self-check then says it is incomplete, never FAILED on what mas itself accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fuzzlogs import cli, write
from triage_logs import jsonl, llm, mas_event, run

from mas_cli.events.counts import MAX_TOKENS
from mas_cli.llm.usage import openai_usage

NOT_COUNTS = [2**63 + 5, 10**31, MAX_TOKENS + 1, -1, 1.5]


def _log(tmp_path: Path, bad: Any) -> Path:
    """A finished run of two calls whose run_finished adds up; line 3 then hand-edited."""
    calls = [llm(1), llm(2, off_schema={"input_tokens": bad})]
    done = mas_event(
        "run_finished", 99, status="ok", duration_s=1.0, llm_calls=2, tool_calls=0,
        input_tokens=200, output_tokens=20, cost_usd=0.002,
    )  # fmt: skip
    events = [*run(*calls, finished=False), done]
    (tmp_path / "run").mkdir()
    return write(tmp_path / "run" / "events.jsonl", jsonl(events))


@pytest.mark.parametrize("bad", NOT_COUNTS)
def test_cost_report_skips_the_line_and_says_the_self_check_is_incomplete(
    tmp_path: Path, bad: Any
) -> None:
    log = _log(tmp_path, bad)
    table = cli("cost-report", str(log))
    assert "self-check incomplete" in table.output
    assert "FAILED" not in table.output
    assert f"{log}:4: input_tokens" in table.output  # line 4: run_started, task_started, call 1
    doc = json.loads(cli("cost-report", str(log), "--json").stdout)
    (info,) = doc["runs"]
    assert (info["self_check"], info["skipped_lines"]) == ("incomplete", 1)
    assert doc["total"]["input_tokens"] == 100  # the good call alone: the bad one never summed


@pytest.mark.parametrize("bad", NOT_COUNTS)
def test_show_export_view_and_triage_skip_the_line_with_where_and_why(
    tmp_path: Path, bad: Any
) -> None:
    log = _log(tmp_path, bad)
    where = f"{log}:4: input_tokens"
    assert where in cli("show", str(log)).output
    assert where in cli("export", str(log), "--to", str(tmp_path / "spans.jsonl")).output
    page = tmp_path / "view.html"
    cli("view", str(log), "--out", str(page), "--no-open")
    assert where in page.read_text(encoding="utf-8")
    loops = json.loads(cli("triage", "loops", str(log), "--json").stdout)
    assert loops["skipped_lines"]["count"] == 1
    assert loops["skipped_lines"]["first"][0]["line"] == 4
    assert "input_tokens" in loops["skipped_lines"]["first"][0]["reason"]


def test_a_count_at_the_bound_is_read_and_summed(tmp_path: Path) -> None:
    log = _log(tmp_path, MAX_TOKENS)
    doc = json.loads(cli("cost-report", str(log), "--json").stdout)
    assert doc["runs"][0]["skipped_lines"] == 0
    assert doc["total"]["input_tokens"] == 100 + MAX_TOKENS


@pytest.mark.parametrize("bad", [MAX_TOKENS + 1, 2**63 + 5])
def test_a_provider_count_past_the_bound_is_no_usage(bad: int) -> None:
    """So mas never writes a count it would refuse to read: the call's usage is estimated."""
    assert openai_usage({"prompt_tokens": bad, "completion_tokens": 5}) is None
    assert openai_usage({"prompt_tokens": 5, "completion_tokens": bad}) is None


def test_an_exported_span_with_a_count_past_the_bound_is_named_where_and_why(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path, 7)  # an ordinary count: the export carries it
    exported = tmp_path / "spans.jsonl"
    cli("export", str(log), "--to", str(exported))
    text = exported.read_text(encoding="utf-8")
    edited = text.replace('"intValue":"7"', f'"intValue":"{2**63 + 5}"', 1)
    assert edited != text
    exported.write_text(edited, encoding="utf-8")
    report = cli("cost-report", str(exported))
    assert f"{exported}:1: span 'chat gpt-4o-mini' is not one mas exported: input_tokens" in (
        report.output
    )
    assert "FAILED" not in report.output
