"""Chat transcripts, group chats and coding-agent trajectories read by `mas triage loops`.

Each fixture in tests/fixtures/chats (written by its make.py, after each format's public
documentation) is sniffed, read with the agents its messages name, and its loop is found.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from fuzzlogs import cli, mutate_line, mutate_log, write
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.events.formats.chats import chat_kind, document_kind

CHATS = Path(__file__).parent / "fixtures" / "chats"


def loops(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["triage", "loops", *args, "--json"])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}, result.stderr


def found(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["detector"], f["where"]["agent"]): f for f in report["findings"]}


def agents(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {a["agent"]: (a["calls"], a["tool_calls"]) for a in report["agents"]}


def test_openai_chats_under_any_key_find_the_repeated_search() -> None:
    code, report, _ = loops(str(CHATS / "openai.jsonl"))
    assert code == 1
    assert report["sources"][0]["format"] == "chat"
    assert report["traces"] == 3  # `messages`, `conversation`, and `chat` one level down
    assert agents(report) == {"assistant": (8, 5)}
    repeat = found(report)[("repeated_calls", "assistant")]
    assert repeat["where"]["trace"] == "conv-1"
    assert "tool search was called 4 times with the same arguments" in repeat["message"]
    # no timestamps: the place is the record and the message, not a time
    first, last = repeat["evidence"]["first"], repeat["evidence"]["last"]
    assert (first["span"], last["span"]) == ("record 1 · message 2", "record 1 · message 8")
    assert first["ts"] is None
    assert first["line"] == 1


def test_the_table_shows_positions_instead_of_times() -> None:
    result = CliRunner().invoke(app, ["triage", "loops", str(CHATS / "openai.jsonl")])
    assert "openai.jsonl record 1 · message 2 → record 1 · message 8" in result.stdout
    assert "when:" not in result.stdout


def test_anthropic_document_finds_the_repeated_tool_error() -> None:
    code, report, stderr = loops(str(CHATS / "anthropic.json"))
    assert (code, stderr) == (1, "")
    assert report["sources"][0]["format"] == "chat"
    assert agents(report) == {"assistant": (5, 3)}
    failure = found(report)[("repeated_failures", "assistant")]
    assert failure["message"].startswith("tool run_tests failed 3 times the same way")
    assert failure["where"]["trace"] == "anthropic-1"


def test_ag2_group_chat_speakers_are_the_agents() -> None:
    _, report, _ = loops(str(CHATS / "ag2_group_chat.json"))
    assert set(agents(report)) == {"writer", "critic", "admin"}
    pong = found(report)[("ping_pong", "writer")]
    assert pong["evidence"]["pattern"] == "writer ⇄ critic ×8"
    assert ("monologue", "critic") in found(report)


def test_magentic_one_ledger_and_tool_calls() -> None:
    _, report, _ = loops(str(CHATS / "magentic_one.jsonl"))
    assert agents(report) == {"WebSurfer": (4, 4), "MagenticOneOrchestrator": (4, 0)}
    repeat = found(report)[("repeated_calls", "WebSurfer")]
    assert "tool visit_url was called 4 times" in repeat["message"]
    assert "same result every time" in repeat["message"]
    assert repeat["fix"].startswith("in AutoGen: ")  # AgentChat's knobs, not a crew file's
    pong = found(report)[("ping_pong", "MagenticOneOrchestrator")]  # the ledger's handoffs
    assert pong["evidence"]["pattern"] == "MagenticOneOrchestrator ⇄ WebSurfer ×8"
    tokens = {a["agent"]: a["tokens"] for a in report["agents"]}
    assert tokens == {"WebSurfer": 4 * 1220, "MagenticOneOrchestrator": 4 * 960 + 6}


def test_swe_agent_traj_names_the_repeated_command() -> None:
    _, report, _ = loops(str(CHATS / "swe_agent.traj"))
    assert report["sources"][0]["format"] == "swe-agent"
    assert agents(report) == {"swe-agent": (6, 6)}  # the `history` view is not read twice
    repeat = found(report)[("repeated_calls", "swe-agent")]
    assert repeat["message"].startswith(
        "tool python -m pytest tests/test_parse.py -x was called 5 times with the same arguments"
    )
    assert repeat["evidence"]["first"]["span"] == "step 1"
    assert repeat["where"]["trace"] == "swe_agent"


def test_openhands_events_find_the_failing_command_and_the_delegate() -> None:
    _, report, _ = loops(str(CHATS / "openhands.json"))
    assert report["sources"][0]["format"] == "openhands"
    assert agents(report) == {"openhands": (5, 3), "BrowsingAgent": (1, 1)}
    failure = found(report)[("repeated_failures", "openhands")]
    assert failure["message"].startswith("tool pytest -q failed 3 times the same way: exit code 1")
    assert failure["evidence"]["first"]["span"] == "event 1"
    assert failure["evidence"]["first"]["ts"] == "2026-11-20T10:00:10.000000"  # times kept
    assert failure["tokens"] == 2000 + 40 + 2300 + 40 + 2600 + 40 - 2040


@pytest.mark.parametrize(
    ("name", "at"),
    [
        ("anthropic.json", b'"conversation_id": "anthropic-2"'),  # a record is read whole
        ("swe_agent.traj", b'"history"'),  # a conversation's messages are read one by one
        ("openhands.json", b'"id": 9,'),
    ],
)
def test_a_truncated_document_keeps_what_came_before(tmp_path: Path, name: str, at: bytes) -> None:
    data = (CHATS / name).read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[: data.index(at) + 10])
    code, report, stderr = loops(str(cut))
    assert code == 1  # the loop before the cut is still found
    assert report["findings"]
    assert report["skipped_lines"]["count"] == 1
    assert "the document ends early or is not JSON" in report["skipped_lines"]["first"][0]["reason"]
    assert "skipped 1 unreadable line" in stderr


def test_a_truncated_jsonl_counts_the_cut_line(tmp_path: Path) -> None:
    data = (CHATS / "magentic_one.jsonl").read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 20])
    _, report, _ = loops(str(cut))
    assert report["skipped_lines"]["count"] == 1
    assert report["skipped_lines"]["first"][0]["line"] == 13


def test_hostile_jsonl_lines_are_counted_not_crashed_on(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    lines = [
        json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
        '{"messages": [{"role": "assistant", "content": ' + deep + "}]}",  # too deep
        json.dumps({"messages": [{"role": "assistant", "content": "x" * (17 << 20)}]}),
        json.dumps({"no": "conversation"}),
        json.dumps({"messages": [{"role": "assistant", "tool_calls": "not a list"}]}),
        json.dumps({"messages": [{"role": "assistant", "content": "fine"}]}),
    ]
    log = tmp_path / "hostile.jsonl"
    log.write_text("\n".join(lines) + "\n")
    code, report, stderr = loops(str(log), "--log-format", "chat")
    assert code in (0, 1, 2)
    reasons = [b["reason"] for b in report["skipped_lines"]["first"]]
    assert report["skipped_lines"]["count"] == 4, reasons
    assert any("longer than" in r for r in reasons)
    assert any("no conversation found" in r for r in reasons)
    assert "skipped 4 unreadable lines" in stderr


def test_hostile_document_deep_nesting_and_giant_strings(tmp_path: Path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    big = "y" * (8 << 20)
    doc = (
        '[{"messages": [{"role": "assistant", "content": ' + deep + "}]},"
        '{"messages": [{"role": "assistant", "content": "' + big + '"}]},'
        '{"messages": [{"role": "assistant", "content": "ok"}]}]'
    )
    log = tmp_path / "hostile.json"
    log.write_text(doc)
    code, report, _ = loops(str(log), "--log-format", "chat")
    assert code == 0
    assert (report["traces"], report["records"]) == (3, 7)  # the deep message alone is lost
    assert report["skipped_lines"]["first"] == [
        {"file": str(log), "line": 1, "reason": "record 1 · message 0: nested too deep to read"}
    ]


def test_sniffing_tells_the_formats_apart() -> None:
    assert chat_kind({"role": "user", "content": "hi"}) == "chat"
    assert chat_kind([{"role": "user", "content": "hi"}]) == "chat"
    assert chat_kind({"history": [{"source": "a", "content": "x", "type": "TextMessage"}]}) == (
        "chat"
    )
    assert chat_kind({"trajectory": [{"action": "ls", "observation": "", "thought": ""}]}) == (
        "swe-agent"
    )
    assert chat_kind({"id": 1, "action": "run", "args": {}, "source": "agent"}) == "openhands"
    assert chat_kind({"type": "llm_call", "run_id": "r"}) is None
    assert document_kind(b'{\n  "trajectory": [\n    {\n      "action": "ls",\n') is None
    assert document_kind(b'{\n  "trajectory": [\n    {"observation": "x",\n') == "swe-agent"
    assert document_kind(b'[\n  {\n    "role": "user",\n') == "chat"
    assert document_kind(b"not json") is None


def _one_line_chats(count: int, content: str) -> str:
    calls = [
        {"role": "assistant", "tool_calls": [{"id": f"t{j}", "function": {"name": "search"}}]}
        for j in range(4)
    ]
    records = [
        {"id": f"c{i}", "messages": [{"role": "assistant", "content": content}, *calls]}
        for i in range(count)
    ]
    return json.dumps(records)


def test_a_one_line_document_past_the_line_bound_is_streamed(tmp_path: Path) -> None:
    log = tmp_path / "dump.json"  # json.dump without indent: one line of 18 MB
    log.write_text(_one_line_chats(3, "x" * (6 << 20)))
    code, report, stderr = loops(str(log))
    assert (code, stderr) == (0, "")
    assert report["sources"][0]["format"] == "chat"
    assert report["traces"] == 3
    assert report["skipped_lines"]["count"] == 0
    assert {f["where"]["trace"] for f in report["findings"]} == {"c0", "c1", "c2"}


@pytest.mark.parametrize("lines", [1, 2])
def test_a_one_line_list_of_conversations_is_read(tmp_path: Path, lines: int) -> None:
    """`json.dump(conversations, f)`: a list of records on one line (or one such list a line),
    read as the same list pretty-printed is, not skipped as "no conversation found"."""
    log = tmp_path / "dump.json"
    log.write_text((_one_line_chats(3, "hi") + "\n") * lines)
    code, report, stderr = loops(str(log))
    assert (code, stderr) == (0, "")
    assert report["sources"][0]["format"] == "chat"
    assert report["traces"] == 3 * lines
    assert report["skipped_lines"]["count"] == 0
    assert {f["where"]["trace"] for f in report["findings"]} == {"c0", "c1", "c2"}


def test_documents_from_stdin_and_gzip(tmp_path: Path) -> None:
    import gzip

    text = json.dumps(json.loads(_one_line_chats(2, "hello")), indent=2)
    piped = CliRunner().invoke(app, ["triage", "loops", "-", "--json"], input=text)
    assert json.loads(piped.stdout)["traces"] == 2
    zipped = tmp_path / "chats.json.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    _, report, _ = loops(str(zipped))
    assert (report["sources"][0]["format"], report["traces"]) == ("chat", 2)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples every run
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(sorted(p.name for p in CHATS.iterdir() if p.suffix != ".py")),
    seed=st.integers(0, 2**32),
    pretty=st.booleans(),
)
@example(name="ag2_group_chat.json", seed=6259, pretty=False)  # not UTF-8: ijson's own error
def test_every_chat_fixture_mutated(tmp_path: Path, name: str, seed: int, pretty: bool) -> None:
    """A message's fields deleted or made hostile (wrong types, deep nesting, huge numbers,
    control characters, cut lines): the boundary holds, exit 0/1/2, never a traceback."""
    rng = random.Random(seed)
    text = (CHATS / name).read_text()
    if name.endswith(".jsonl"):
        mutated = mutate_log(text.splitlines(), rng)
    else:  # a document: mutated as one line, then written pretty or not
        mutated = mutate_line(json.dumps(json.loads(text)), rng)
        with contextlib.suppress(ValueError, RecursionError):
            mutated = json.dumps(json.loads(mutated), indent=2 if pretty else None)
    log = write(tmp_path / name, mutated)
    cli("triage", "loops", str(log), "--json")


def test_a_chat_document_that_stops_early_with_most_of_it_unread_is_unreadable(
    tmp_path: Path,
) -> None:
    records = json.loads(_one_line_chats(200, "x" * 2000))
    text = json.dumps(records, indent=1)
    cut = text.index('"id": "c20"')
    log = tmp_path / "chats.json"
    log.write_text(text[:cut] + "@" + text[cut:])
    code, report, stderr = loops(str(log))
    assert code == 2
    assert report["sources"][0]["unreadable"] is True
    assert "most of the document unread" in stderr
    reason = report["skipped_lines"]["first"][0]["reason"]
    assert reason.startswith("the document ends early or is not JSON (lexical error")
    assert "\n" not in reason  # the parser's own multi-line message, cut to its first line


def test_a_finding_without_positions_in_a_document_names_its_record_not_a_line() -> None:
    """In a pretty-printed group chat, a ping-pong's loc is the record's number: the evidence
    says `record 1`, not `line 1` (the chat starts on line 1, its turns much further down)."""
    path = CHATS / "ag2_group_chat.json"
    for out in ("table", "md"):
        result = CliRunner().invoke(app, ["triage", "loops", str(path), "--format", out])
        [evidence] = [line for line in result.stdout.splitlines() if "writer ⇄ critic" in line]
        assert evidence.endswith(f"{path} record 1"), evidence
    jsonl = CliRunner().invoke(app, ["triage", "loops", str(CHATS / "magentic_one.jsonl")])
    assert f"lines {CHATS / 'magentic_one.jsonl'}:2 → 11" in jsonl.stdout  # one message a line


def _chat(usage: dict[str, int] | None) -> dict[str, Any]:
    """One conversation whose assistant calls lookup six times the same way."""
    said = [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"c{i}", "type": "function",
             "function": {"name": "lookup", "arguments": '{"id": 7}'}}]}
        | ({"usage": usage} if usage else {})
        for i in range(6)
    ]  # fmt: skip
    answers = [{"role": "tool", "tool_call_id": f"c{i}", "content": "pending"} for i in range(6)]
    messages = [m for pair in zip(said, answers, strict=True) for m in pair]
    return {"messages": [{"role": "user", "content": "check 7"}, *messages]}


def test_tokens_a_transcript_does_not_record_are_unknown_not_zero(tmp_path: Path) -> None:
    """A transcript without usage says nothing of tokens: the table shows `-`, `--json` null,
    each finding `tokens unknown`; one with usage keeps its counts."""
    bare, counted = tmp_path / "bare.json", tmp_path / "counted.json"
    bare.write_text(json.dumps([_chat(None)]))
    counted.write_text(json.dumps([_chat({"prompt_tokens": 100, "completion_tokens": 20})]))
    _, report, _ = loops(str(bare))
    assert [a["tokens"] for a in report["agents"]] == [None]
    assert report["findings"]
    assert all(f["tokens"] is None for f in report["findings"])
    table = CliRunner().invoke(app, ["triage", "loops", str(bare)], env={"COLUMNS": "100"})
    assert "spent inside: tokens unknown" in table.stdout
    assert "0 tokens" not in table.stdout
    assert [row.split()[5] for row in table.stdout.splitlines() if row.startswith("assistant")] == [
        "-"
    ]
    _, report, _ = loops(str(counted))
    assert [a["tokens"] for a in report["agents"]] == [720]
    assert all(isinstance(f["tokens"], int) and f["tokens"] > 0 for f in report["findings"])


def test_a_rate_finding_does_not_claim_it_spent_nothing(tmp_path: Path) -> None:
    """The per-minute counts keep no spend: a rate finding's tokens are unknown, not 0."""
    log = tmp_path / "app.log"
    log.write_text(
        "".join(
            f"2026-12-06 10:01:{i:02d} INFO agent=critic tokens=50 agent_run\n" for i in range(12)
        )
    )
    _, report, _ = loops(str(log))
    [rate] = [f for f in report["findings"] if f["detector"] == "rate"]
    assert rate["tokens"] is None


def _tool_calls_only(folder: Path) -> tuple[Path, Path]:
    """A text log and our own run log of the same eight identical tool calls, no model call."""
    text = folder / "tools.log"
    text.write_text(
        "".join(f"2026-12-06T10:00:0{i} tool_call agent=scorer tool=search q=a\n" for i in range(8))
    )
    common = {"v": 1, "run_id": "r1", "trace_id": "a" * 32, "span_id": "b" * 16}
    started = {**common, "ts": "2026-12-06T10:00:00Z", "type": "run_started", "crew": "c"}
    call = {
        **common, "agent": "scorer", "task": "t", "turn": 1, "type": "tool_call",
        "tool": "search", "args_digest": "d" * 16, "status": "ok", "latency_s": 0.01,
    }  # fmt: skip
    calls = [{**call, "ts": f"2026-12-06T10:00:0{i}Z", "tool_call_id": f"c{i}"} for i in range(8)]
    finished = {**common, "ts": "2026-12-06T10:00:09Z", "type": "run_finished", "status": "ok"}
    own = folder / "events.jsonl"
    own.write_text("".join(json.dumps(e) + "\n" for e in [started, *calls, finished]))
    return text, own


def test_a_log_with_no_model_call_does_not_say_it_spent_no_tokens(tmp_path: Path) -> None:
    """A text log of tool calls only says nothing of the model's tokens: `-`/null and `tokens
    unknown`, not 0 (it said `0 tokens`). Our own log records every model call: none is 0."""
    text, own = _tool_calls_only(tmp_path)
    _, report, _ = loops(str(text))
    assert [a["tokens"] for a in report["agents"]] == [None]
    assert [f["tokens"] for f in report["findings"]] == [None]
    table = CliRunner().invoke(app, ["triage", "loops", str(text)])
    assert "spent inside: tokens unknown" in table.stdout
    assert "0 tokens" not in table.stdout
    import gzip

    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(own.read_bytes()))
    for path in (own, packed):  # the fast path, and the record pass a gzipped log takes
        _, report, _ = loops(str(path))
        assert [a["tokens"] for a in report["agents"]] == [0], path
        assert [f["tokens"] for f in report["findings"]] == [0], path
