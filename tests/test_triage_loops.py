"""Each loop detector firing at its threshold and staying quiet just under it, with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from triage_logs import jsonl, llm, mas_event, run, tool

from mas_cli.errors import UsageError
from mas_cli.records import asdict, replace
from mas_cli.triage.findings import Finding
from mas_cli.triage.report import LoopReport
from mas_cli.triage.scan import ScanOptions, scan
from mas_cli.triage.thresholds import Thresholds, build


def findings(tmp_path: Path, events: list[dict], **overrides: int) -> list[Finding]:
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(events))
    return scan([str(log)], ScanOptions(thresholds=Thresholds(**overrides))).findings


def only(found: list[Finding], detector: str) -> list[Finding]:
    return [f for f in found if f.detector == detector]


def resolved(report: LoopReport) -> list[str]:
    """The findings, with their places as line numbers in the file (not per part of it)."""
    lines = (
        replace(f, first=report.line(f.first), last=report.line(f.last)) for f in report.findings
    )
    return sorted(map(repr, lines))


def test_turns_fire_past_the_threshold(tmp_path: Path) -> None:
    assert not only(findings(tmp_path, run(*(llm(i) for i in range(1, 6)))), "turns")
    [hit] = only(findings(tmp_path, run(*(llm(i) for i in range(1, 7)))), "turns")
    assert (hit.severity, hit.agent, hit.task) == ("warning", "scorer", "score")
    assert "took 6 turns" in hit.message
    assert "set max_turns: 5 on agent scorer" in hit.fix
    assert hit.tokens == 6 * 110
    assert hit.cost == pytest.approx(0.006)
    [worse] = only(findings(tmp_path, run(*(llm(i) for i in range(1, 11)))), "turns")
    assert worse.severity == "error"


def test_retries_share_a_turn(tmp_path: Path) -> None:
    events = run(*(llm(1, attempt=a) for a in range(1, 4)), llm(2))
    assert not only(findings(tmp_path, events, turns=2), "turns")


def test_invocations_per_minute(tmp_path: Path) -> None:
    def starts(count: int) -> list[dict]:
        return [mas_event("task_started", i, agent="critic", task=f"t{i}") for i in range(count)]

    assert not only(findings(tmp_path, run(*starts(10))), "rate")
    [hit] = only(findings(tmp_path, run(*starts(11))), "rate")
    assert hit.agent == "critic"
    assert "11 times in the minute from 2026-11-21 02:00" in hit.message
    assert "max_llm_calls" in hit.fix


def test_repeated_calls_and_the_same_result(tmp_path: Path) -> None:
    assert not only(findings(tmp_path, run(tool(1), tool(2))), "repeated_calls")
    [hit] = only(findings(tmp_path, run(tool(1), tool(2), tool(3))), "repeated_calls")
    assert hit.severity == "warning"
    assert "called 3 times with the same arguments" in hit.message
    assert "got 3 different results" in hit.message  # its answer changes: a status polled for
    assert "backoff" in hit.fix
    assert "deterministic" not in hit.fix
    assert "max_identical_tool_calls: 2" in hit.fix
    assert (hit.first_ts, hit.last_ts) == (
        "2026-11-21T02:00:01.000000Z",
        "2026-11-21T02:00:03.000000Z",
    )
    [same] = only(
        findings(tmp_path, run(*(tool(i, result="r") for i in (1, 2, 3)))), "repeated_calls"
    )
    assert same.severity == "error"
    assert "no new information" in same.message
    assert "declare tool search deterministic (tools.search.deterministic: true)" in same.fix
    spaced = run(tool(1), llm(2), tool(3), llm(4), tool(5))
    [spent] = only(findings(tmp_path, spaced), "repeated_calls")
    assert spent.tokens == 220  # the model calls made between the first and the last repeat


def test_different_arguments_are_not_repeats(tmp_path: Path) -> None:
    events = run(*(tool(i, args=f"a{i}") for i in range(1, 6)))
    assert not only(findings(tmp_path, events), "repeated_calls")


def test_repeated_failures(tmp_path: Path) -> None:
    def fail(n: int) -> dict:
        return llm(
            n, status="error", error=f"429 rate limited, retry after {n}s", output_digest=None
        )

    assert not only(findings(tmp_path, run(fail(1), fail(2))), "repeated_failures")
    [hit] = only(findings(tmp_path, run(fail(1), fail(2), fail(3))), "repeated_failures")
    assert hit.severity == "error"
    assert "failed 3 times the same way" in hit.message
    assert "max_retries" in hit.fix


def handoff(n: int, giver: str, taker: str) -> dict:
    return mas_event("handoff", n, agent=giver, from_agent=giver, to_agent=taker)


def test_ping_pong_between_agents(tmp_path: Path) -> None:
    pairs = [("scorer", "critic"), ("critic", "scorer")]
    five = [handoff(i, *pairs[i % 2]) for i in range(4)]  # scorer critic scorer critic scorer
    assert not only(findings(tmp_path, run(*five)), "ping_pong")
    six = [handoff(i, *pairs[i % 2]) for i in range(5)]
    [hit] = only(findings(tmp_path, run(*six)), "ping_pong")
    assert {hit.pattern.split(" ")[0], hit.pattern.split(" ")[2]} == {"scorer", "critic"}
    assert "took turns 6 times" in hit.message
    assert "final say" in hit.fix


def test_ping_pong_between_tool_calls(tmp_path: Path) -> None:
    def alternate(count: int) -> list[dict]:
        return [
            tool(i, name="search" if i % 2 else "fetch", args="q" if i % 2 else "u")
            for i in range(1, count + 1)
        ]

    assert not only(findings(tmp_path, run(*alternate(5)), repeated_calls=99), "ping_pong")
    [hit] = only(findings(tmp_path, run(*alternate(6)), repeated_calls=99), "ping_pong")
    assert "alternated tools" in hit.message
    assert "deterministic" in hit.fix


def test_monologue(tmp_path: Path) -> None:
    same = [llm(i, output_digest="same") for i in (2, 3)]
    assert not only(findings(tmp_path, run(llm(1), *same)), "monologue")
    [hit] = only(findings(tmp_path, run(llm(1), *same, llm(4, output_digest="same"))), "monologue")
    assert "same output 3 times running" in hit.message
    assert "max_turns: 2" in hit.fix
    assert hit.tokens == 3 * 110


def test_token_growth_projects_the_context_window(tmp_path: Path) -> None:
    flat = [llm(i, input_tokens=1000) for i in range(1, 7)]
    assert not only(findings(tmp_path, run(*flat), turns=99), "token_growth")
    rising = [llm(i, input_tokens=1000 + 4000 * i, model="gpt-4o") for i in range(1, 7)]
    [hit] = only(findings(tmp_path, run(*rising), turns=99), "token_growth")
    assert "grew by 4,000 tokens a turn" in hit.message
    assert "128,000-token context at turn 32" in hit.message
    assert "max_history_tokens" in hit.fix
    small = [llm(i, input_tokens=1000 + 100 * i) for i in range(1, 7)]
    assert not only(findings(tmp_path, run(*small), turns=99), "token_growth")


def test_limit_hits_and_unfinished_runs(tmp_path: Path) -> None:
    limit = mas_event(
        "limit_hit",
        5,
        agent="scorer",
        task="score",
        kind="max_llm_calls",
        value=13,
        threshold=12,
        scope="run",
        message="stopped: max_llm_calls 12 reached (circuit breaker)",
    )
    [hit] = only(findings(tmp_path, run(llm(1), limit)), "limit_hit")
    assert (hit.severity, hit.pattern) == ("error", "max_llm_calls")
    assert not only(findings(tmp_path, run(llm(1))), "unfinished")
    [open_run] = only(findings(tmp_path, run(llm(1), finished=False)), "unfinished")
    assert "never finished" in open_run.message
    assert "run_timeout_s" in open_run.fix


def test_evidence_lines_and_costliest_first(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(
        jsonl(run(*(llm(i, cost_usd=0.5) for i in range(1, 8)), tool(8), tool(9), tool(10)))
    )
    report = scan([str(log)], ScanOptions())
    assert [f.detector for f in report.findings] == ["turns", "repeated_calls"]
    turns = report.findings[0]
    assert (report.line(turns.first), report.line(turns.last)) == (2, 12)
    assert report.where(turns.first) == f"{log}:2"


def test_parallel_scan_matches_the_sequential_one(tmp_path: Path) -> None:
    events = []
    for number in range(40):
        body = [
            llm(i, output_digest="same" if number % 3 == 0 else f"o{i}")
            for i in range(1, 4 + number % 5)
        ]
        one = run(*body, tool(9), tool(10), tool(11), finished=number != 7)
        events += [{**e, "trace_id": f"{number:032x}"} for e in one]
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(events))
    sequential = scan([str(log)], ScanOptions())
    parallel = scan([str(log)], ScanOptions(workers=2, chunk_bytes=4096, parallel_bytes=0))
    assert len(parallel.units) > 1

    def key(report):
        return sorted(
            (f.detector, f.trace, report.line(f.first), report.line(f.last), f.tokens)
            for f in report.findings
        )

    assert key(parallel) == key(sequential)

    def rows(report):
        return [{**asdict(a), "cost": round(a.cost, 9)} for a in report.agents]

    assert rows(parallel) == rows(sequential)


def test_every_finding_says_when_it_happened(tmp_path: Path) -> None:
    """The first and last time of each pattern, from the log's own timestamps."""
    import random

    events = _random_log(random.Random(31), 40)
    stamps = {e["ts"] for e in events}
    report_findings = findings(tmp_path, events)
    assert {f.detector for f in report_findings} >= {"turns", "monologue", "limit_hit"}
    for f in report_findings:
        if f.detector == "rate":  # a minute, which its message names
            continue
        assert f.first_ts in stamps, f
        assert f.last_ts in stamps, f
        assert f.first_ts <= f.last_ts, f


def test_the_time_shown_for_a_finding() -> None:
    from mas_cli.cli.render.triage import _when

    def when(first: str, last: str) -> str:
        return _when(
            Finding("turns", "error", "t", "a", "", "", "", 1, 2, 0, None, "", "", "", first, last)
        )

    assert when("2026-11-21T02:13:05Z", "2026-11-21T02:41:10Z") == (
        "2026-11-21 02:13:05 → 02:41:10 UTC (28 min)"
    )
    assert when("2026-11-21T23:00:00Z", "2026-11-24T03:30:00Z") == (
        "2026-11-21 23:00:00 → 2026-11-24 03:30:00 UTC (2 d 4 h)"
    )
    assert when("2026-11-21 02:00:00,5", "2026-11-21 05:15:00") == (
        "2026-11-21 02:00:00 → 05:15:00 (3 h 14 min)"
    )
    assert when("2026-11-21T02:00:00Z", "2026-11-21T02:00:00Z") == "2026-11-21 02:00:00 UTC"
    assert when("Nov 21 02:00:00", "Nov 21 02:09:00") == "Nov 21 02:00:00 → Nov 21 02:09:00"
    assert when("", "") == ""


def test_thresholds_from_crew_section_and_flags() -> None:
    th = build({"turns": 8, "monologue": 4}, ["turns=3", "ping-pong=10"])
    assert (th.turns, th.monologue, th.ping_pong, th.repeated_calls) == (3, 4, 10, 3)
    with pytest.raises(UsageError, match="did you mean 'turns'"):
        build(None, ["turnz=3"])
    with pytest.raises(UsageError, match="not NAME=VALUE"):
        build(None, ["turns"])
    with pytest.raises(UsageError, match="not a number"):
        build(None, ["turns=many"])


def _random_log(rng, runs: int) -> list[dict]:
    """Runs of every shape the fast path must tell apart: healthy ones and loops of each kind."""
    events: list[dict] = []
    agents = [("scorer", "score"), ("critic", "critique")]
    for number in range(runs):
        body = []
        for turn in range(1, rng.randint(1, 8)):
            agent, task = rng.choice(agents)
            body.append(
                llm(
                    turn,
                    agent=agent,
                    task=task,
                    output_digest=rng.choice(["same", "", f"o{number}-{turn}"]),
                    input_tokens=rng.choice([100, 100 + 900 * turn]),
                    cost_usd=rng.choice([None, 0.01]),
                    status=rng.choice(["ok"] * 19 + ["error"]),
                    ts=f"2026-11-21T02:{number % 3:02d}:{turn:02d}Z",
                )
            )
            if rng.random() < 0.6:
                body.append(
                    tool(
                        turn,
                        agent=agent,
                        task=task,
                        args=rng.choice(["a", f"x{number}{turn}"]),
                        status=rng.choice(["ok"] * 9 + ["error"]),
                    )
                )
            if rng.random() < 0.15:
                body.append(mas_event("task_started", turn, agent=agent, task=task))
            if rng.random() < 0.03:
                body.append(mas_event("handoff", turn, from_agent=agent, to_agent="critic"))
            if rng.random() < 0.03:
                body.append(mas_event("limit_hit", turn, agent=agent, kind="max_turns"))
            if rng.random() < 0.05:
                body.append(mas_event("state_write", turn, key="k", writer=task))
        one = run(*body, finished=number % 13 != 0)
        if number % 17 == 5:
            one = one[1:]  # no run_started
        if number % 19 == 7:
            one.append(mas_event("retry", 99, agent="scorer", task="score"))  # after the end
        events += [{**e, "trace_id": f"{number:032x}"} for e in one]
    starts = [mas_event("task_started", i, agent=a, task=t) for i in (1, 2, 3) for a, t in agents]
    alone = [  # runs where a single detector fires, and nothing else looks wrong
        [llm(i, output_digest="same") for i in (1, 2, 3)],
        starts,
        [llm(i, input_tokens=1000 * i) for i in range(1, 6)],
        [llm(i, status="error", error="rate limited", output_digest="") for i in (1, 2, 3)],
        [tool(i, args=f"a{i}", status="error", error="timeout") for i in (1, 2, 3)],
        [llm(i, turn=0) for i in range(1, 7)],  # no turn logged: calls count as turns
        [mas_event("task_started", i, agent="critic", task="critique") for i in range(6)],
    ]
    for number, body in enumerate(alone, runs):
        events += [{**e, "trace_id": f"{number:032x}"} for e in run(*body)]
    return events


@pytest.mark.parametrize(
    ("seed", "overrides"),
    [
        (11, {}),
        (12, {}),
        (13, {"turns": 2, "growth_turns": 3}),
        (14, {"monologue": 1}),
        (15, {"ping_pong": 20}),
    ],
)
def test_fast_path_agrees_with_the_reference_on_random_logs(
    tmp_path: Path, seed: int, overrides: dict[str, int]
) -> None:
    """Our logs take a fast path; the streaming path (gzip here) folds every record into the
    tally, the reference. Every finding and every number of the table must be the same."""
    import gzip
    import random

    text = jsonl(_random_log(random.Random(seed), 80)) + "not json\n"
    plain, packed = tmp_path / "events.jsonl", tmp_path / "events.jsonl.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    options = ScanOptions(thresholds=Thresholds(**overrides))
    fast, slow = scan([str(plain)], options), scan([str(packed)], options)
    parallel = scan([str(plain)], replace(options, workers=2, chunk_bytes=2048, parallel_bytes=0))
    assert len(parallel.units) > 1

    def rows(report):
        return [{**asdict(a), "cost": round(a.cost, 9)} for a in report.agents]

    assert sorted(map(repr, fast.findings)) == sorted(map(repr, slow.findings))
    assert overrides or {f.detector for f in slow.findings} >= {
        "turns",
        "repeated_calls",
        "repeated_failures",
        "monologue",
        "ping_pong",
        "token_growth",
        "limit_hit",
        "unfinished",
    }
    assert resolved(parallel) == resolved(fast)
    for report in (fast, parallel):
        assert rows(report) == rows(slow)
        assert (report.records, report.traces, report.bad.count) == (
            slow.records,
            slow.traces,
            slow.bad.count,
        )


@pytest.mark.parametrize("keep", [0, 1, 5])
def test_keeping_the_costliest_findings_counts_them_all(tmp_path: Path, keep: int) -> None:
    """A table shows the costliest findings, so only those are kept (memory stays flat however
    many a log holds), in one process and across workers; every count still covers them all."""
    import random

    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(_random_log(random.Random(21), 80)))
    everything = scan([str(log)], ScanOptions())
    assert everything.found == len(everything.findings) > 5
    for options in (
        ScanOptions(keep=keep),
        ScanOptions(keep=keep, workers=2, chunk_bytes=2048, parallel_bytes=0),
    ):
        costliest = scan([str(log)], options)
        assert len(costliest.findings) == keep
        assert resolved_top(costliest) == resolved_top(everything, keep)
        assert (costliest.found, costliest.worst()) == (everything.found, everything.worst())
        assert [(a.agent, a.findings) for a in costliest.agents] == [
            (a.agent, a.findings) for a in everything.agents
        ]


def resolved_top(report: LoopReport, keep: int | None = None) -> list[tuple[object, ...]]:
    """The kept findings in order, with their places as line numbers in the file."""
    return [
        (f.detector, f.trace, f.cost, f.tokens, report.line(f.first), report.line(f.last))
        for f in report.findings[:keep]
    ]


def test_interleaved_runs_are_read_in_one_piece(tmp_path: Path) -> None:
    """Short runs written into the file while a long one goes on: the split at run starts
    cuts the long run; the scan sees it go on in a later part and reads the file whole."""
    long = [{**e, "trace_id": "a" * 32} for e in run(*(llm(i) for i in range(1, 30)))]
    events = []
    for number, event in enumerate(long):
        events.append(event)
        if number % 6 == 3:
            short = run(*(tool(i) for i in range(1, 4)))
            events += [{**e, "trace_id": f"{number:032x}"} for e in short]
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(events))
    sequential = scan([str(log)], ScanOptions())
    parallel = scan([str(log)], ScanOptions(workers=2, chunk_bytes=1024, parallel_bytes=0))
    assert len(parallel.units) == 1  # read in one piece
    assert resolved(parallel) == resolved(sequential)
    assert {f.detector for f in sequential.findings} >= {"turns", "repeated_calls"}
    assert parallel.traces == sequential.traces == 6


def test_a_log_read_twice_is_still_read_in_parts(tmp_path: Path) -> None:
    """The same runs twice over (two copies of a log, concatenated): every run starts and ends
    inside one part, so the parts are read in parallel, and agree with one pass."""
    once = []
    for number in range(6):
        one = run(*(llm(i, output_digest="same") for i in range(1, 5)), tool(9), tool(10))
        once += [{**e, "trace_id": f"{number:032x}"} for e in one]
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(once + once))
    sequential = scan([str(log)], ScanOptions())
    parallel = scan([str(log)], ScanOptions(workers=2, chunk_bytes=1024, parallel_bytes=0))
    assert len(parallel.units) > 1
    assert resolved(parallel) == resolved(sequential)
    assert parallel.traces == sequential.traces == 12
