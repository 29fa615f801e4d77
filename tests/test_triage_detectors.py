"""One detector, one truth: the registry, its screens, and what each finding may claim."""

from __future__ import annotations

import gzip
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from triage_logs import TRACE, jsonl, llm, mas_event, run, tool

from mas_cli.triage import detectors
from mas_cli.triage.detectors import DETECTORS, Detector
from mas_cli.triage.findings import Finding
from mas_cli.triage.report import LoopReport
from mas_cli.triage.scan import ScanOptions, scan
from mas_cli.triage.sums import Signals
from mas_cli.triage.thresholds import Thresholds
from mas_cli.triage.traces import Trace


def report(tmp_path: Path, events: list[dict], name: str = "events.jsonl") -> LoopReport:
    log = tmp_path / name
    log.write_text(jsonl(events))
    return scan([str(log)], ScanOptions())


def only(rep: LoopReport, detector: str) -> list[Finding]:
    return [f for f in rep.findings if f.detector == detector]


def both_paths(tmp_path: Path, events: list[dict]) -> tuple[LoopReport, LoopReport]:
    """The same log read by the fast path (plain) and by the record path (gzip)."""
    text = jsonl(events)
    plain, packed = tmp_path / "events.jsonl", tmp_path / "events.jsonl.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    return scan([str(plain)], ScanOptions()), scan([str(packed)], ScanOptions())


def test_every_registered_detector_has_its_screen_and_its_judge() -> None:
    names = [d.name for d in DETECTORS]
    assert len(names) == len(set(names))
    for d in DETECTORS:
        assert callable(d.screen), d.name
        assert callable(d.judge), d.name
        assert list(inspect.signature(d.screen).parameters) != [], d.name
        assert d.screen(Signals(), Thresholds()) in (True, False), d.name
    # a healthy, finished trace with nothing noted is picked by no screen: the fast path's gain
    quiet = Signals(ended=True)
    assert [d.name for d in DETECTORS if d.screen(quiet, Thresholds())] == []


def _busy(trace: Trace, _th: Thresholds) -> Iterator[Finding]:
    """A new detector, written the natural way: more than 3 tool calls in one thread."""
    for t in trace.threads.values():
        if t.tool_calls > 3:
            yield Finding(
                "busy", "warning", trace.trace, t.agent, t.task, "busy", "busy", t.first,
                t.last, t.tokens, None, "calm down",
            )  # fmt: skip


def test_a_detector_registered_the_natural_way_fires_on_plain_and_gzipped_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def could_be_busy(s: Signals, _th: Thresholds) -> bool:
        return any(t.tool_calls > 3 for t in s.threads.values())

    busy = Detector("busy", could_be_busy, _busy)
    monkeypatch.setattr(detectors, "DETECTORS", [*DETECTORS, busy])
    healthy = run(*(tool(i, args=f"a{i}") for i in range(1, 5)))  # nothing else fires on it
    fast, slow = both_paths(tmp_path, healthy)
    assert [f.detector for f in slow.findings] == ["busy"]
    assert [f.detector for f in fast.findings] == ["busy"]
    calm = run(*(tool(i, args=f"a{i}") for i in range(1, 4)))
    assert not any(r.findings for r in both_paths(tmp_path, calm))


def test_the_fast_path_runs_the_registered_screens_not_copies_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A screen that never picks a trace makes the fast path blind to it, and only the fast
    path: proof that it is the registered screen, and nothing else, that decides."""
    blind = Detector("busy", lambda _s, _th: False, _busy)
    monkeypatch.setattr(detectors, "DETECTORS", [*DETECTORS, blind])
    fast, slow = both_paths(tmp_path, run(*(tool(i, args=f"a{i}") for i in range(1, 6))))
    assert [f.detector for f in slow.findings] == ["busy"]
    assert fast.findings == []


# The wrong statements of issue 16, each on a small log.


def test_repeated_calls_spend_only_the_calling_agents_own_calls(tmp_path: Path) -> None:
    """The critic's big model calls between the scorer's repeats are not the scorer's spend."""
    busy_critic = [llm(i, agent="critic", task="critique", input_tokens=50_000) for i in range(3)]
    events = run(tool(1), *busy_critic[:1], llm(2), tool(3), *busy_critic[1:], llm(4), tool(5))
    rep = report(tmp_path, events)
    [hit] = only(rep, "repeated_calls")
    scorer = next(row for row in rep.agents if row.agent == "scorer")
    assert hit.tokens == 220  # llm(2) and llm(4): the scorer's calls between its repeats
    assert hit.tokens <= scorer.tokens


def _text_line(n: int, agent: str) -> str:
    return f"2026-11-21T02:00:{n:02d}Z INFO agent_run agent={agent} tool=search\n"


def test_a_text_log_without_arguments_claims_no_same_arguments_and_names_both_agents(
    tmp_path: Path,
) -> None:
    log = tmp_path / "agents.log"
    log.write_text("".join(_text_line(n, ("scorer", "critic")[n % 2]) for n in range(40)))
    rep = scan([str(log)], ScanOptions())
    [hit] = only(rep, "repeated_calls")
    assert "same arguments" not in hit.message
    assert "called 40 times by agents scorer and critic" in hit.message
    assert hit.blamed == ("scorer", "critic")
    assert hit.pattern == "search ×40"
    [turns] = only(rep, "ping_pong")  # the same alternation, said as what it is
    assert turns.blamed == ("scorer", "critic")
    assert "through tool search" in turns.message
    assert {row.agent: row.findings for row in rep.agents} == {"critic": 2, "scorer": 2}


def test_an_unknown_task_is_never_shown_as_a_question_mark(tmp_path: Path) -> None:
    log = tmp_path / "agents.log"
    log.write_text("".join(f"agent_run agent=scorer iteration={n}\n" for n in range(1, 9)))
    [hit] = only(scan([str(log)], ScanOptions()), "turns")
    assert "task ?" not in hit.message + hit.fix
    assert "what a final answer looks like" in hit.fix  # a text log: its own loop's terms


def limit(kind: str, agent: str = "scorer") -> dict:
    return mas_event("limit_hit", 5, agent=agent, task="score", kind=kind, message="stopped")


def test_limit_advice_names_real_settings_and_only_points_to_findings_that_exist(
    tmp_path: Path,
) -> None:
    [alone] = only(report(tmp_path, run(limit("max_llm_calls"))), "limit_hit")
    assert "other findings" not in alone.fix
    assert "limits.max_llm_calls" in alone.fix
    [ping] = only(report(tmp_path, run(limit("delegation_ping_pong"))), "limit_hit")
    assert "raising delegation_ping_pong" not in ping.fix
    assert "no setting raises it" in ping.fix
    looped = run(*(llm(i) for i in range(1, 8)), limit("max_turns"))
    [hit] = only(report(tmp_path, looped), "limit_hit")
    assert "see the other findings for this trace" in hit.fix
    assert "agents.scorer.max_turns" in hit.fix


def _limit_kinds() -> set[str]:
    """Every limit kind a mas guard writes."""
    from typing import get_args

    from mas_cli.engine import outcomes

    typed = getattr(outcomes, "LimitKind", None)  # the Literal, where the engine has it
    if typed is not None:
        return set(get_args(typed))
    return {*outcomes.RUN_WIDE, *outcomes.COUNTED, "task_timeout_s", "no_progress"}


def test_every_limit_kind_gets_advice_that_names_a_real_setting_or_none() -> None:
    from mas_cli.triage.stops import FIXED, SETTINGS

    assert _limit_kinds() <= set(SETTINGS) | set(FIXED)
    assert not set(SETTINGS) & set(FIXED)
    from mas_cli.spec.models import AgentSpec, Limits

    for kind, where in SETTINGS.items():
        assert kind in Limits.model_fields or kind in AgentSpec.model_fields, kind
        for setting in where.replace("(or ", "").rstrip(")").split():
            section, _, name = setting.rpartition(".")
            model = Limits if section == "limits" else AgentSpec
            assert name in model.model_fields, setting


def test_a_cached_tool_is_not_told_to_become_deterministic(tmp_path: Path) -> None:
    calls = [tool(1, result="r")] + [tool(i, result="r", cached=True) for i in (2, 3, 4)]
    [hit] = only(report(tmp_path, run(*calls)), "repeated_calls")
    assert "deterministic" not in hit.fix
    assert "already answered from the cache (3 of 4 calls)" in hit.fix


def test_a_polled_status_is_told_to_back_off(tmp_path: Path) -> None:
    polls = [tool(i, name="check_status", result=f"pending-{i}") for i in range(1, 5)]
    [hit] = only(report(tmp_path, run(*polls)), "repeated_calls")
    assert "got 4 different results" in hit.message
    assert "backoff" in hit.fix
    assert "deterministic" not in hit.fix


def test_one_tool_with_two_argument_sets_is_a_repeat_not_an_alternation(tmp_path: Path) -> None:
    polls = [tool(i, name="check_status", args="ab"[i % 2]) for i in range(1, 8)]
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(run(*polls)))
    options = ScanOptions(thresholds=Thresholds(repeated_calls=99))
    [hit] = [f for f in scan([str(log)], options).findings if f.detector == "ping_pong"]
    assert "check_status and check_status" not in hit.message
    assert "called tool check_status 7 times in a row" in hit.message


def test_unfinished_names_the_run_not_the_trace(tmp_path: Path) -> None:
    for fast in (True, False):
        events = run(llm(1), finished=False)
        name = "events.jsonl" if fast else "events.jsonl.gz"
        path = tmp_path / name
        data = jsonl(events).encode()
        path.write_bytes(data if fast else gzip.compress(data))
        [hit] = [f for f in scan([str(path)], ScanOptions()).findings if f.detector == "unfinished"]
        assert hit.message.startswith("run r1 never finished")
        assert TRACE not in hit.message
        assert hit.trace == TRACE  # the trace stays in `where`
