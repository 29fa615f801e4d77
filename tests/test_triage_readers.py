"""Every log reader on fixture logs made here: good lines, garbage, truncation, gzip, stdin."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from msgspec.structs import astuple
from triage_logs import TRACE, agents_span, jsonl, llm, mas_event, otlp_line, otlp_span, run, tool

from mas_cli.errors import UsageError
from mas_cli.events.formats import read_records
from mas_cli.events.formats.mas import as_array, decode_block, to_record
from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Limit,
    ModelCall,
    ToolCallRecord,
    TraceEnd,
    TraceStart,
)
from mas_cli.events.formats.sniff import sniff
from mas_cli.events.formats.source import BadLines, line_source
from mas_cli.events.formats.text import compile_pattern


def read(path: Path, fmt: str = "auto", pattern: str | None = None) -> tuple[list, BadLines]:
    bad = BadLines()
    source = line_source(str(path))
    try:
        records = list(
            read_records(source, fmt, bad, compile_pattern(pattern) if pattern else None)
        )
    finally:
        source.close()
    return records, bad


def test_mas_log_with_garbage_and_a_truncated_last_line(tmp_path: Path) -> None:
    text = (
        jsonl(run(llm(1), tool(1))) + "not json at all\n\n" + '{"v":1,"type":"llm_call","ts":"2026'
    )
    lines = text.splitlines(keepends=True)
    lines.insert(
        3, '{"v":1,"type":"future_event","run_id":"r1","trace_id":"t"}\n'
    )  # unknown type: skipped
    log = tmp_path / "events.jsonl"
    log.write_text("".join(lines))
    records, bad = read(log)
    kinds = [type(r) for _, r in records]
    assert kinds == [
        TraceStart,
        AgentStart,
        ModelCall,
        ToolCallRecord,
        type(records[4][1]),
        TraceEnd,
    ]
    call = records[2][1]
    assert (call.trace, call.agent, call.task, call.turn, call.name) == (
        TRACE,
        "scorer",
        "score",
        1,
        "gpt-4o-mini",
    )
    assert (call.input_tokens, call.output_tokens, call.cost, call.output) == (
        100,
        10,
        0.001,
        "out1",
    )
    assert bad.count == 2
    assert [b.line for b in bad.first] == [8, 10]
    assert "not JSON" in bad.first[0].reason


def test_block_decoding_matches_line_decoding(tmp_path: Path) -> None:
    good = jsonl(run(llm(1), tool(1), llm(2))).encode()
    fast = decode_block(as_array(good), good, "x", 1, BadLines())
    assert len(fast) == good.count(b"\n")
    crlf, bad = good.replace(b"\n", b"\r\n"), BadLines()
    assert list(map(astuple, decode_block(as_array(crlf), crlf, "x", 1, bad))) == list(
        map(astuple, fast)
    )
    assert bad.count == 0
    mixed = good + b"garbage\n\n" + good
    bad = BadLines()
    slow = decode_block(as_array(mixed), mixed, "x", 1, bad)
    assert len(slow) == mixed.count(b"\n")
    assert list(map(astuple, slow[: len(fast)])) == list(map(astuple, fast))
    assert bad.count == 1
    assert bad.first[0].line == len(fast) + 1


@pytest.mark.parametrize(
    "tail",
    [b"\n", b"  \n", b"\n\n", b"\r\n", b'{"type": "llm_call"} {"type": "llm_call"}\n', b"[1]\n"],
)
def test_a_block_decodes_to_one_entry_a_line(tail: bytes) -> None:
    """Blank lines, two values on a line, a bare value: the block still has one entry a line,
    and the lines after the odd one keep their numbers."""
    good = jsonl(run(llm(1), tool(1))).encode()
    kinds = [x.type for x in decode_block(as_array(good), good, "x", 1, BadLines())]
    for block in (tail + good, good + tail + good, tail):
        lines = decode_block(as_array(block), block, "x", 1, BadLines())
        assert len(lines) == block.count(b"\n")
        if block.endswith(good):
            assert [x.type for x in lines[-len(kinds) :]] == kinds


def test_new_event_types_and_statuses_are_read() -> None:
    """A type or a status this version does not know (a newer writer's) reads as it is, and
    the new type is skipped, not counted as bad."""
    block = jsonl(
        run(llm(1, off_schema={"status": "paused"}), mas_event("checkpoint", 1), tool(1))
    ).encode()
    bad = BadLines()
    lines = decode_block(as_array(block), block, "x", 1, bad)
    kinds = [x.type for x in lines]
    assert kinds[2:5] == ["llm_call", "checkpoint", "tool_call"]
    assert lines[2].status == "paused"
    assert to_record(lines[3]) is None
    assert bad.count == 0


def test_gzip_and_several_files(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl.gz"
    log.write_bytes(gzip.compress(jsonl(run(llm(1))).encode()))
    records, bad = read(log)
    assert [type(r) for _, r in records][2] is ModelCall
    assert bad.count == 0


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    from mas_cli.triage.scan import ScanOptions, scan

    data = gzip.compress(jsonl(run(*(llm(i) for i in range(1, 200)))).encode())
    log = tmp_path / "cut.jsonl.gz"
    log.write_bytes(data[: len(data) // 2])
    report = scan([str(log)], ScanOptions())
    assert report.records > 10
    assert report.bad.count >= 1
    assert "ends early" in report.bad.first[-1].reason


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.TextIOWrapper(io.BufferedReader(io.BytesIO(jsonl(run(llm(1))).encode())))
    monkeypatch.setattr("sys.stdin", stream)
    bad = BadLines()
    records = list(read_records(line_source("-"), "auto", bad))
    assert any(isinstance(r, ModelCall) for _, r in records)


def otlp_trace() -> str:
    agent = otlp_span(
        "00f067aa0ba902b7",
        "",
        "invoke_agent scorer",
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "scorer"},
        start=1,
    )
    chat = otlp_span(
        "1111111111111111",
        "00f067aa0ba902b7",
        "chat gpt-4o",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 80,
            "gen_ai.usage.cache_read.input_tokens": 1000,
        },
        start=2,
    )
    old = otlp_span(
        "2222222222222222",
        "00f067aa0ba902b7",
        "chat",
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": 1300,
            "gen_ai.usage.completion_tokens": 90,
        },
        start=3,
    )
    tool_span = otlp_span(
        "3333333333333333",
        "00f067aa0ba902b7",
        "execute_tool search",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "search",
            "gen_ai.tool.call.arguments": '{"q": "refunds"}',
        },
        start=4,
        error="timeout after 30s",
    )
    oi = otlp_span(
        "4444444444444444",
        "00f067aa0ba902b7",
        "ChatCompletion",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.token_count.prompt": 1400,
            "llm.token_count.completion": 70,
        },
        start=5,
    )
    # children end (and are exported) before their agent span, which is the root here
    return otlp_line(chat, old) + otlp_line(tool_span, oi) + "{not otlp\n" + otlp_line(agent)


def test_otlp_current_deprecated_and_openinference_attributes(tmp_path: Path) -> None:
    log = tmp_path / "traces.jsonl"
    log.write_text(otlp_trace())
    records, bad = read(log)
    calls = [r for _, r in records if isinstance(r, ModelCall)]
    assert [(c.input_tokens, c.output_tokens, c.name) for c in calls] == [
        (1200, 80, "gpt-4o"),
        (1300, 90, "gpt-4o"),
        (1400, 70, "gpt-4o-mini"),
    ]
    assert {c.agent for c in calls} == {"scorer"}  # attributed from the agent span read later
    tools = [r for _, r in records if isinstance(r, ToolCallRecord)]
    assert (tools[0].name, tools[0].status, tools[0].error) == (
        "search",
        "error",
        "timeout after 30s",
    )
    assert tools[0].span == "3333333333333333"
    assert isinstance(records[-1][1], TraceEnd)
    assert records[0][1].ts.startswith("2026-11-18T")  # nanoseconds as a string, to ISO 8601
    assert bad.count == 1
    assert bad.first[0].line == 3


def test_otlp_token_counts_sent_as_doubles_or_strings(tmp_path: Path) -> None:
    """An SDK that sends every number as a double (`{"doubleValue": 1200.0}`), or a count as a
    string: the tokens are counted, not read as 0."""
    chat = otlp_span("1" * 16, "", "chat", {"gen_ai.operation.name": "chat"})
    chat["attributes"] += [
        {"key": "gen_ai.usage.input_tokens", "value": {"doubleValue": 1200.0}},
        {"key": "gen_ai.usage.output_tokens", "value": {"stringValue": "80"}},
    ]
    log = tmp_path / "traces.jsonl"
    log.write_text(otlp_line(chat))
    records, bad = read(log)
    [call] = [r for _, r in records if isinstance(r, ModelCall)]
    assert (call.input_tokens, call.output_tokens, bad.count) == (1200, 80, 0)


def test_otlp_trace_without_root_never_finished(tmp_path: Path) -> None:
    chat = otlp_span(
        "1111111111111111",
        "00f067aa0ba902b7",
        "chat",
        {"gen_ai.operation.name": "chat", "gen_ai.agent.name": "scorer"},
    )
    log = tmp_path / "traces.jsonl"
    log.write_text(otlp_line(chat))
    records, _ = read(log)
    assert [type(r) for _, r in records] == [TraceStart, ModelCall]


def test_openai_agents_spans_and_a_batch(tmp_path: Path) -> None:
    trace = {
        "object": "trace",
        "id": "trace_abc",
        "workflow_name": "triage",
        "group_id": None,
        "metadata": None,
    }
    gen = agents_span(
        "g1",
        "a1",
        {
            "type": "generation",
            "model": "gpt-4o",
            "output": [{"role": "assistant", "content": "hi"}],
            "usage": {"input_tokens": 500, "output_tokens": 20},
        },
        at=1,
    )
    fn = agents_span(
        "f1",
        "a1",
        {"type": "function", "name": "lookup", "input": '{"id": 7}', "output": "found"},
        at=2,
    )
    hand = agents_span(
        "h1", "a1", {"type": "handoff", "from_agent": "triage", "to_agent": "billing"}, at=3
    )
    agent = agents_span(
        "a1",
        None,
        {"type": "agent", "name": "triage", "handoffs": ["billing"], "tools": ["lookup"]},
        error={"message": "Max turns (10) exceeded", "data": None},
        at=4,
    )
    log = tmp_path / "agents.jsonl"
    log.write_text(
        json.dumps(trace)
        + "\n"
        + json.dumps({"data": [gen, fn]})
        + "\n"
        + json.dumps(hand)
        + "\n"
        + "[1, 2]\n"
        + json.dumps(agent)
        + "\n"
    )
    records, bad = read(log)
    by_kind = {type(r): r for _, r in records}
    assert by_kind[ModelCall].agent == "triage"
    assert (by_kind[ModelCall].input_tokens, by_kind[ModelCall].name) == (500, "gpt-4o")
    assert (by_kind[ToolCallRecord].name, by_kind[ToolCallRecord].agent) == ("lookup", "triage")
    assert (by_kind[Handoff].giver, by_kind[Handoff].taker) == ("triage", "billing")
    assert by_kind[Limit].name == "max_turns"
    assert bad.count == 1


def test_text_default_pattern_and_python_logging_layout(tmp_path: Path) -> None:
    log = tmp_path / "crew.log"
    log.write_text(
        "2026-11-21 02:13:07,123 [4bf92f35] INFO crew.scorer — agent_run iteration=7\n"
        "2026-11-21 02:13:08,001 [4bf92f35] INFO crew.scorer — calling tool=search_kb query=refunds\n"
        "2026-11-21T02:13:09Z llm_call agent=critic task=critique model=gpt-4o tokens=812\n"
        "a line of no known layout\n"
        "2026-11-21T02:13:10Z handoff from=scorer to=critic\n"
        "2026-11-21T02:13:11Z ERROR agent=scorer MaxTurnsExceeded: max_turns reached\n"
    )
    records, bad = read(log)
    kinds = [type(r) for _, r in records]
    assert kinds == [AgentStart, ToolCallRecord, ModelCall, Handoff, Limit]
    first = records[0][1]
    assert (first.agent, first.turn, first.trace, first.ts) == (
        "scorer",
        7,
        "4bf92f35",
        "2026-11-21T02:13:07.123",
    )
    assert records[1][1].name == "search_kb"
    assert (records[2][1].agent, records[2][1].input_tokens) == ("critic", 812)
    assert bad.count == 1
    assert bad.first[0].line == 4


def test_a_traceback_after_a_text_record_is_part_of_it_not_skipped(tmp_path: Path) -> None:
    """An agent that fails logs a traceback (or a Java stack trace) under each record: those
    lines are not unreadable, so a log read whole is not 'unreadable' (36 of 42 lines)."""
    trace = [
        "Traceback (most recent call last):",
        '  File "/app/agent.py", line 88, in run_tool',
        "    result = tool(**args)",
        "TimeoutError: search timed out",
        "\tat com.acme.Agent.run(Agent.java:42)",
        "Caused by: java.net.SocketTimeoutException: Read timed out",
        "\t... 5 more",
    ]
    record = "2026-11-21 02:00:0{} [{}] ERROR scorer — tool_call tool=search args=q1 status=error"
    lines = [line for i in range(4) for line in (record.format(i, TRACE), *trace)]
    log = tmp_path / "app.log"
    log.write_text("\n".join([*lines, "not a record, nor a traceback"]) + "\n")
    records, bad = read(log)
    assert sum(isinstance(r, ToolCallRecord) for _, r in records) == 4
    assert [(b.line, b.reason) for b in bad.first] == [(33, "no timestamp, fields or known layout")]
    garbage = tmp_path / "noise.log"  # indented lines with no record before them still count
    garbage.write_text("  indented\nTimeoutError: x\n")
    assert read(garbage)[1].count == 2


def test_json_log_lines_are_read_as_their_fields(tmp_path: Path) -> None:
    """structlog, pino and python-json-logger write one JSON object a line: its keys are read
    as a text line's `key=value` pairs (an epoch time, a nested object of arguments)."""
    lines = [
        {"timestamp": "2026-11-21T02:00:01Z", "event": "tool call", "agent": "scorer",
         "tool": "search", "args": {"q": "refunds"}, "trace_id": TRACE},
        {"level": 30, "time": 1795000000123, "msg": "tool call", "agent": "scorer",
         "tool": "search", "args": {"q": "refunds"}, "trace_id": TRACE},
        {"asctime": "2026-11-21 02:00:03,000", "name": "crew.critic", "levelname": "INFO",
         "message": "llm_call", "model": "gpt-4o", "prompt_tokens": 812},
        [1, 2],
        {"kind": "span", "agent": "scorer", "tool": "search"},  # no message: not a log line
    ]  # fmt: skip
    log = tmp_path / "app.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    records, bad = read(log)
    calls = [r for _, r in records if isinstance(r, ToolCallRecord)]
    assert [(c.agent, c.name, c.trace) for c in calls] == [("scorer", "search", TRACE)] * 2
    assert calls[0].args == calls[1].args != ""
    assert calls[1].ts == "2026-11-18T11:06:40.123Z"
    [model] = [r for _, r in records if isinstance(r, ModelCall)]
    assert (model.agent, model.name, model.input_tokens) == ("critic", "gpt-4o", 812)
    assert [b.line for b in bad.first] == [4, 5]


def test_text_custom_pattern(tmp_path: Path) -> None:
    log = tmp_path / "custom.log"
    log.write_text(
        "[run 9] scorer used search (120 tok)\nnoise\n[run 9] scorer used search (130 tok)\n"
    )
    records, bad = read(
        log,
        pattern=r"\[run (?P<trace>\d+)\] (?P<agent>\w+) used (?P<tool>\w+) \((?P<tokens>\d+) tok\)",
    )
    assert [(r.trace, r.agent, r.name) for _, r in records] == [("9", "scorer", "search")] * 2
    assert bad.count == 1


def test_custom_pattern_must_name_groups() -> None:
    with pytest.raises(UsageError, match=r"none of the groups"):
        compile_pattern(r"(\w+) used (\w+)")
    with pytest.raises(UsageError, match=r"not a valid regular expression"):
        compile_pattern(r"(?P<agent>")


@pytest.mark.parametrize(
    ("line", "fmt"),
    [
        (json.dumps(llm(1)), "mas"),
        (otlp_line(otlp_span("1", "", "x", {})).strip(), "otlp"),
        (json.dumps({"object": "trace", "id": "trace_1"}), "openai-agents"),
        (json.dumps({"data": [{"object": "trace.span", "id": "s"}]}), "openai-agents"),
        ("2026-11-21 agent_run agent=scorer", "text"),
    ],
)
def test_sniff(line: str, fmt: str) -> None:
    assert sniff([b"\n", line.encode()]) == fmt


@pytest.mark.parametrize("block", [8, 64, 4 << 20])
def test_blocks_are_whole_lines_with_their_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Lines longer than the buffer, a blank line, no newline at the end: every byte is read
    once, in whole lines, and each block comes with its JSON array made in place."""
    from mas_cli.triage import blocks

    monkeypatch.setattr(blocks, "BLOCK", block)
    data = b"short\n" + b"x" * 100 + b"\n\n" + b"y" * 7 + b"\nlast line, no newline"
    log = tmp_path / "lines.txt"
    log.write_bytes(data)
    for start, end in [(0, len(data)), (6, 107), (6, len(data))]:
        pieces = [(bytes(a), bytes(v)) for a, v in blocks.blocks(str(log), start, end)]
        assert b"".join(piece for _, piece in pieces) == data[start:end]
        assert all(piece.endswith(b"\n") for _, piece in pieces[:-1])
        assert all(array == as_array(piece) for array, piece in pieces)


BOM = b"\xef\xbb\xbf"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    "fixture",
    ["", "chats/openai.jsonl", "frameworks/crewai.otlp.jsonl", "docs/jaeger-export.json"],
    ids=["mas", "chat", "otlp", "jaeger"],
)
def test_a_byte_order_mark_is_not_a_bad_first_line(
    tmp_path: Path, fixture: str, packed: bool
) -> None:
    """Windows tools (PowerShell's Out-File, Notepad) start UTF-8 files with a BOM: the first
    record is read as if it were not there, not skipped (it may be the one that loops)."""
    from mas_cli.triage.scan import ScanOptions, scan

    text = (
        (FIXTURES / fixture).read_bytes() if fixture else jsonl(run(*map(tool, range(5)))).encode()
    )
    reports = []
    for name, data in (("plain.log", text), ("bom.log", BOM + text)):
        log = tmp_path / name
        log.write_bytes(gzip.compress(data) if packed else data)
        reports.append(scan([str(log)], ScanOptions()))
    plain, bom = reports
    assert bom.bad.count == plain.bad.count == 0
    assert (bom.records, bom.traces, bom.found) == (plain.records, plain.traces, plain.found)
    assert bom.found > 0


def test_a_byte_order_mark_on_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = BOM + (FIXTURES / "chats" / "openai.jsonl").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    bad = BadLines()
    records = list(read_records(line_source("-", bad), "auto", bad))
    assert bad.count == 0
    assert sum(isinstance(r, ToolCallRecord) for _, r in records) == 5


def test_a_span_exported_twice_is_one_call(tmp_path: Path) -> None:
    """An exporter that retried a batch the collector had taken writes its spans again: two
    tool calls sent twice are two calls, not a tool "called 4 times with the same arguments"."""
    from mas_cli.triage.scan import ScanOptions, scan

    call = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    call |= {"gen_ai.agent.name": "scorer", "gen_ai.tool.call.arguments": '{"q": "x"}'}
    spans = [otlp_span(f"{i:016x}", "a" * 16, "execute_tool", call, start=i) for i in (1, 2)]
    root = otlp_span("a" * 16, "", "invoke_agent scorer", {"gen_ai.agent.name": "scorer"}, start=3)
    log = tmp_path / "traces.jsonl"
    log.write_text(otlp_line(*spans) + otlp_line(*spans) + otlp_line(root))
    records, bad = read(log)
    assert sum(isinstance(r, ToolCallRecord) for _, r in records) == 2
    assert bad.count == 0
    report = scan([str(log)], ScanOptions())
    assert report.found == 0
    assert [row.tool_calls for row in report.agents] == [2]


def test_the_otlp_reader_holds_the_traces_in_flight_not_every_trace_read() -> None:
    """Memory follows the traces in flight: an ended trace leaves nothing behind (its id was
    kept for ever, so a collector's file of millions of traces grew the reader without end)."""
    from mas_cli.events.formats.otlp import Span, SpanReader

    reader = SpanReader()
    for i in range(1000):
        trace = f"{i:032x}"
        list(reader.span(1, Span(traceId=trace, spanId="1" * 16, parentSpanId="2" * 16)))
        list(reader.span(1, Span(traceId=trace, spanId="2" * 16)))  # its root, last
    list(reader.span(1, Span(traceId="f" * 32, spanId="3" * 16, parentSpanId="4" * 16)))
    assert (reader.seen, set(reader.span_ids)) == ({"f" * 32}, {"f" * 32})
