"""Volatile parts (ids, uuids, timestamps, counters, hex digests, whitespace) set aside, and
repeats that differ only in them found by the detectors, with what varied as evidence."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from triage_logs import otlp_line, otlp_span

from mas_cli.events.volatile import differing, shape, summary
from mas_cli.triage.scan import ScanOptions, scan


def same(a: str, b: str) -> bool:
    return shape(a).text == shape(b).text


def varied(a: str, b: str) -> set[str]:
    return differing(summary(shape(a)), summary(shape(b)))


def test_json_arguments_that_differ_only_in_ids_and_times() -> None:
    a = '{"q": "refunds", "id": 3, "ts": "2026-12-06T00:31:45Z", "meta": {"requestId": "r-1"}}'
    b = '{"meta": {"requestId": "r-2"},  "ts": "2026-12-06T00:32:45.123+01:00", "q": "refunds",\n "id": 4}'
    assert same(a, b)
    assert varied(a, b) == {"id", "ts", "meta.requestId"}
    assert not same(a, a.replace("refunds", "returns"))


def test_json_values_shaped_like_ids_whatever_their_key() -> None:
    uuid = '{"ref": "5a4b75e2-1c2d-4f1a-9b8c-0123456789ab", "n": 1}'
    other = '{"ref": "0fe1c2d3-aaaa-4bbb-8ccc-abcdef012345", "n": 1}'
    assert same(uuid, other)
    assert varied(uuid, other) == {"ref"}
    assert same('{"sha": "2e5030ab2c7646d6"}', '{"sha": "9f3c1d0a7b6e5c4d"}')
    assert same(
        '{"created_at": 1795000000}', '{"created_at": 1795000001}'
    )  # a key named like a time


def test_business_values_are_not_volatile() -> None:
    assert not same('{"amount": 4980}', '{"amount": 5000}')
    assert not same('{"page": 1}', '{"page": 2}')
    assert not same('{"account_id": "A1"}', '{"account_id": "A2"}')  # the subject, not a call id
    assert not same('{"zip": "90210"}', '{"zip": "10001"}')
    assert not same('{"word": "deadbeef"}', '{"word": "cafebabe"}')  # hex letters, no digit
    assert not same("[true]", "[false]")


def test_text_counters_ids_timestamps_and_whitespace() -> None:
    a = "Attempt 3:  still waiting for job 5a4b75e2 at 2026-12-06T00:31:45Z"
    b = "Attempt 4: still waiting for job 9c1d22f0 at 2026-12-06T00:31:46Z"
    assert same(a, b)
    assert varied(a, b) == {"numbers", "ids", "whitespace"}
    assert varied("req42 done", "req43 done") == {"numbers"}
    assert not same("status ok", "status failed")


def test_not_json_after_all_is_read_as_text() -> None:
    assert same("{not json 1", "{not json 2")
    assert same("[" * 100_000 + "1", "[" * 100_000 + "2")  # too deep to parse: text


HOSTILE = [
    "a1" * 500_000,  # one long mixed token
    "1-" * 500_000,  # a million short numbers
    "0123456789abcdef" * 60_000 + "g",  # a long hex run that is not hex at its end
    " \t" * 500_000,
    "[" * 300_000 + "]" * 300_000,  # deep JSON
    json.dumps({f"id{i}": f"{i:08x}" for i in range(50_000)}),  # many volatile parts
    "2026-12-06T00:31:45Z " * 50_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_inputs_stay_linear(text: str) -> None:
    started = time.perf_counter()
    found = shape(text)
    assert len(summary(found)) < 2_000  # a record carries a bounded summary
    assert time.perf_counter() - started < 10  # linear: well under a second; quadratic: hours


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b", " ", ":", "-", "x9", "7", "\n", "é", "{", "}"]), max_size=40
    ),
    st.integers(0, 10**12),
    st.integers(0, 10**12),
)
def test_any_text_with_different_numbers_has_the_same_shape(
    pieces: list[str], first: int, second: int
) -> None:
    text = "".join(pieces)
    assert shape(text + f" n{first}").text == shape(text + f" n{second}").text
    assert shape(text) == shape(text)  # deterministic


def test_repeated_calls_through_volatile_arguments_on_a_text_log(tmp_path: Path) -> None:
    log = tmp_path / "crew.log"
    log.write_text(
        "".join(
            f"2026-11-21T02:13:0{i}Z tool_call agent=scorer tool=search "
            f'args=\'{{"q": "refunds", "request_id": "{i:032x}"}}\'\n'
            for i in range(1, 4)
        )
    )
    [hit] = [f for f in scan([str(log)], ScanOptions()).findings if f.detector == "repeated_calls"]
    assert "called 3 times with the same arguments (the arguments differ only in: request_id)" in (
        hit.message
    )


def test_repeated_calls_through_volatile_arguments_on_otlp(tmp_path: Path) -> None:
    spans = [
        otlp_span(
            f"{n:016x}",
            "00f067aa0ba902b7",
            "execute_tool search",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.agent.name": "scorer",
                "gen_ai.tool.name": "search",
                "gen_ai.tool.call.arguments": json.dumps({"q": "refunds", "id": n, "ts": str(n)}),
            },
            start=n,
        )
        for n in range(1, 4)
    ]
    log = tmp_path / "traces.jsonl"
    log.write_text("".join(otlp_line(span) for span in spans))
    [hit] = [f for f in scan([str(log)], ScanOptions()).findings if f.detector == "repeated_calls"]
    assert "(the arguments differ only in: id, ts)" in hit.message
    assert hit.agent == "scorer"


def test_a_monologue_through_counters_on_a_text_log(tmp_path: Path) -> None:
    log = tmp_path / "crew.log"
    log.write_text(
        "".join(
            f'2026-11-21T02:13:0{i}Z agent=critic message="Still waiting, attempt {i} of 9"\n'
            for i in range(1, 4)
        )
    )
    found = scan([str(log)], ScanOptions()).findings
    [hit] = [f for f in found if f.detector == "monologue"]
    assert hit.agent == "critic"
    assert "3 times running (the outputs differ only in: numbers)" in hit.message


POLLER = """
    name: poller
    models:
      fast: {provider: offline, model: gpt-4o-mini}
    limits: {max_turns: 5, max_identical_tool_calls: 2}
    tools:
      status:
        function: tools.py:status
        kind: live
    agents:
      watcher:
        role: Watcher
        goal: Wait for the job.
        model: fast
        tools: [status]
        script:
          turns:
            %s
            - {text: done}
    tasks:
      - {id: watch, agent: watcher, prompt: Wait for job 7.}
"""


def test_our_own_log_sees_repeats_through_volatile_arguments(tmp_path: Path) -> None:
    """The engine's guard counts identical arguments; the log also carries their shape, so the
    triage sees three calls that differ only in a request id, on both paths."""
    import gzip

    from crewkit import run, write_crew

    turns = "\n            ".join(
        f"- tool_calls: [{{name: status, arguments: {{job: 7, request_id: '{i:032x}'}}}}]"
        for i in range(1, 4)
    )
    path = write_crew(
        tmp_path / "crew",
        POLLER % turns,
        tools__py='def status(job: int, request_id: str) -> str:\n    """Job status."""\n'
        '    return "running"\n',
    )
    result = run(path, tmp_path / "home")
    log = Path(result.run_dir) / "events.jsonl"
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))
    for source in (log, packed):
        found = scan([str(source)], ScanOptions()).findings
        [hit] = [f for f in found if f.detector == "repeated_calls"]
        assert "(the arguments differ only in: request_id)" in hit.message
