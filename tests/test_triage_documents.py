"""Saved trace documents (OTLP JSON, Jaeger, Langfuse): any layout, the right agents and loops,
truncated and hostile documents read as far as they go, memory bounded by one span."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.events.formats import read_records
from mas_cli.events.formats.lines import MAX_LINE_BYTES
from mas_cli.events.formats.records import ModelCall, ToolCallRecord, TraceEnd
from mas_cli.events.formats.source import BadLines, line_source

DOCS = Path(__file__).resolve().parent / "fixtures" / "docs"
FIXTURES = {
    "otlp": "otlp-export.json",
    "jaeger": "jaeger-export.json",
    "langfuse": "langfuse-trace.json",
}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def read(path: Path, fmt: str = "auto") -> tuple[list[Any], BadLines]:
    bad = BadLines()
    source = line_source(str(path), bad)
    try:
        return list(read_records(source, fmt, bad)), bad
    finally:
        source.close()


def loops(runner: CliRunner, *args: str, stdin: bytes | None = None) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["triage", "loops", *args, "--json"], input=stdin)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


@pytest.mark.parametrize("fmt", FIXTURES)
def test_each_export_gives_its_agent_and_loop(runner: CliRunner, fmt: str) -> None:
    path = DOCS / FIXTURES[fmt]
    code, data = loops(runner, str(path))
    assert code == 1
    assert [(s["path"], s["format"]) for s in data["sources"]] == [(str(path), fmt)]
    [agent] = data["agents"]
    assert (agent["agent"], agent["calls"], agent["tool_calls"], agent["tokens"]) == (
        "scorer",
        1,
        4,
        876,
    )
    found = {f["detector"]: f for f in data["findings"]}
    assert set(found) == {"repeated_calls", "limit_hit"}
    repeated = found["repeated_calls"]
    assert (repeated["where"]["agent"], repeated["where"]["trace"]) == ("scorer", TRACE)
    assert "tool search was called 4 times" in repeated["message"]
    assert data["skipped_lines"]["count"] == 0


@pytest.mark.parametrize("fmt", FIXTURES)
def test_evidence_lines_are_where_each_span_ends(runner: CliRunner, fmt: str) -> None:
    path = DOCS / FIXTURES[fmt]
    _, data = loops(runner, str(path))
    repeated = next(f for f in data["findings"] if f["detector"] == "repeated_calls")
    lines = path.read_text().splitlines()
    first, last = repeated["evidence"]["first"]["line"], repeated["evidence"]["last"]["line"]
    assert lines[first - 1].strip() in ("}", "},")
    span_ids = "".join(lines[:first])
    assert '"1000000000000000"' in span_ids
    assert '"1000000000000001"' not in span_ids
    assert '"1000000000000003"' in "".join(lines[:last])


def test_langfuse_reads_cost_and_the_original_attributes() -> None:
    records, bad = read(DOCS / FIXTURES["langfuse"])
    [call] = [r for _, r in records if isinstance(r, ModelCall)]
    assert (call.agent, call.name, call.input_tokens, call.output_tokens) == (
        "scorer",
        "gpt-4o-mini",
        812,
        64,
    )
    assert call.cost == pytest.approx(0.0001602)
    tools = [r for _, r in records if isinstance(r, ToolCallRecord)]
    assert {(t.agent, t.name) for t in tools} == {("scorer", "search")}
    assert len({t.args for t in tools}) == 1
    assert isinstance(records[-1][1], TraceEnd)
    assert bad.count == 0


def _otlp_doc() -> dict[str, Any]:
    return json.loads((DOCS / FIXTURES["otlp"]).read_text())


def _kinds(records: list[Any]) -> list[tuple[str, str, str]]:
    return [(type(r).__name__, r.agent, getattr(r, "name", "")) for _, r in records]


@pytest.mark.parametrize(
    "layout",
    [
        json.dumps,  # one line
        lambda d: json.dumps([d, d], indent=1),  # a list of exports
        lambda d: json.dumps({"trace": d}, indent=3),  # Tempo's layout
        lambda d: json.dumps({"batches": d["resourceSpans"]}),  # Tempo's older one
        lambda d: json.dumps(d, indent=2) + "\n" + json.dumps(d, indent=2),  # concatenated
        lambda d: json.dumps(
            {
                "resourceSpans": [
                    {"instrumentationLibrarySpans": d["resourceSpans"][0]["scopeSpans"]}
                ]
            },
            indent=2,
        ),
    ],
)
def test_otlp_documents_of_any_layout_read_alike(tmp_path: Path, layout: Any) -> None:
    expected, _ = read(DOCS / FIXTURES["otlp"])
    path = tmp_path / "export.json"
    path.write_text(layout(_otlp_doc()))
    records, bad = read(path)
    assert bad.count == 0
    assert _kinds(records)[: len(expected)] == _kinds(expected)


def test_a_one_line_export_longer_than_a_line_may_be_is_read_whole(tmp_path: Path) -> None:
    doc = _otlp_doc()
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    filler = {"traceId": "ff" * 16, "spanId": "ee" * 8, "name": "x" * 4000, "attributes": []}
    copies = MAX_LINE_BYTES // len(json.dumps(filler)) + 1000
    spans[:0] = [filler] * copies
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    assert path.stat().st_size > MAX_LINE_BYTES
    records, bad = read(path)
    assert bad.count == 0
    assert ("ToolCallRecord", "scorer", "search") in _kinds(records)


@pytest.mark.parametrize("fmt", FIXTURES)
def test_a_truncated_export_reads_what_it_could(
    runner: CliRunner, tmp_path: Path, fmt: str
) -> None:
    text = (DOCS / FIXTURES[fmt]).read_text()
    cut = text.index('"1000000000000002"')  # inside the third tool span
    path = tmp_path / FIXTURES[fmt]
    path.write_text(text[:cut])
    code, data = loops(runner, str(path))
    assert code in (0, 1)
    assert data["sources"][0]["format"] == fmt
    assert data["agents"][0]["tool_calls"] == 2
    assert data["skipped_lines"]["count"] == 1
    assert "ends early" in data["skipped_lines"]["first"][0]["reason"]


@pytest.mark.parametrize("fmt", FIXTURES)
def test_gzip_and_stdin(runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    raw = (DOCS / FIXTURES[fmt]).read_bytes()
    path = tmp_path / "export.json.gz"
    path.write_bytes(gzip.compress(raw))
    for args, stdin in (([str(path)], None), (["-"], raw)):
        _, data = loops(runner, *args, stdin=stdin)
        assert data["sources"][0]["format"] == fmt
        assert data["agents"][0]["tool_calls"] == 4


def test_a_forced_format_on_a_document(runner: CliRunner) -> None:
    _, data = loops(runner, str(DOCS / FIXTURES["otlp"]), "--log-format", "otlp")
    assert data["agents"][0]["tool_calls"] == 4


@pytest.mark.parametrize(
    "hostile",
    [
        b'{"data": [{"traceID": "t", "spans": [{"spanID": "a", "operationName": "x", "tags": '
        + b"[" * 3_000_000,
        b'{"data": [{"traceID": "t", "spans": [{"spanID": "a", "operationName": "x", "tags": [], "x": "'
        + b"A" * (40 << 20)
        + b'"}]}]}',
    ],
    ids=["deep", "huge-string"],
)
def test_hostile_documents_stay_bounded(tmp_path: Path, hostile: bytes) -> None:
    path = tmp_path / "hostile.json"
    path.write_bytes(hostile)
    peak, out = _peak_rss_mb(path)
    assert "jaeger" in out
    assert peak < 100, f"peak RSS {peak:.0f} MB"


PEAK_MB = """
def peak_mb():  # VmHWM: ru_maxrss would count the forking parent's pages (it survives exec)
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
"""


def _peak_rss_mb(path: Path) -> tuple[float, str]:
    """Triage a file in a fresh interpreter; its peak RSS in MB, and what it printed."""
    code = (
        "import sys\n"
        f"{PEAK_MB}\n"
        "from mas_cli.triage.scan import ScanOptions, scan\n"
        "report = scan([sys.argv[1]], ScanOptions(keep=20))\n"  # findings kept as a table keeps them
        "print(report.sources, report.records, report.bad.count, report.bad.first[:1])\n"
        "print(peak_mb())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    printed, peak = done.stdout.rsplit("\n", 2)[0], float(done.stdout.split()[-1])
    return peak, printed


def test_memory_is_bounded_by_the_spans_in_flight_not_the_document(tmp_path: Path) -> None:
    """A 48 MB pretty-printed export of many traces: loading it whole takes several hundred MB."""
    spans = _otlp_doc()["resourceSpans"][0]["scopeSpans"][0]["spans"]
    trace = ",\n".join(json.dumps(span, indent=2) for span in spans)
    path = tmp_path / "big.json"
    with path.open("w") as out:
        out.write('{"resourceSpans": [{"scopeSpans": [{"spans": [\n')
        number = 0
        while out.tell() < 48 << 20:
            piece = [trace.replace(TRACE, f"{number + i:032x}") for i in range(100)]
            out.write(",\n".join(piece) + ",\n")
            number += 100
        out.write(json.dumps(spans[0]) + "\n]}]}]}\n")
    peak, printed = _peak_rss_mb(path)
    assert "otlp" in printed
    assert " 0 []" in printed  # nothing skipped
    assert peak < 100, f"peak RSS {peak:.0f} MB"


def _langfuse() -> dict[str, Any]:
    return json.loads((DOCS / FIXTURES["langfuse"]).read_text())


@pytest.mark.parametrize(
    "layout",
    [
        lambda d: [d, d],  # several traces downloaded together
        lambda d: d["trace"] | {"observations": d["observations"]},  # the API's trace
        lambda d: {"data": d["observations"], "meta": {"cursor": None}},  # observations API
    ],
    ids=["list", "trace-with-observations", "observations-api"],
)
def test_langfuse_layouts(runner: CliRunner, tmp_path: Path, layout: Any) -> None:
    path = tmp_path / "langfuse.json"
    path.write_text(json.dumps(layout(_langfuse()), indent=2))
    _, data = loops(runner, str(path))
    assert data["sources"][0]["format"] == "langfuse"
    assert data["agents"][0]["agent"] == "scorer"
    assert data["agents"][0]["tool_calls"] % 4 == 0
    assert data["skipped_lines"]["count"] == 0


def test_a_misshapen_span_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    doc = json.loads((DOCS / FIXTURES["jaeger"]).read_text())
    spans = doc["data"][0]["spans"]
    spans[0]["tags"] = "not a list"
    spans[1]["startTime"] = "soon"
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(doc, indent=2))
    records, bad = read(path)
    assert bad.count == 2
    assert all("unexpected shape" in b.reason for b in bad.first)
    assert len([r for _, r in records if isinstance(r, ToolCallRecord)]) == 2


def test_openai_agents_export_saved_as_one_document(tmp_path: Path) -> None:
    from triage_logs import agents_span

    trace = {"object": "trace", "id": "trace_abc", "workflow_name": "triage"}
    calls = [
        agents_span("f1", "a1", {"type": "function", "name": "lookup", "input": '{"id": 7}'}, at=1)
        for _ in range(4)
    ]
    agent = agents_span("a1", None, {"type": "agent", "name": "triage"}, at=5)
    lines, document = tmp_path / "agents.jsonl", tmp_path / "agents.json"
    lines.write_text("".join(json.dumps(item) + "\n" for item in [trace, *calls, agent]))
    document.write_text(json.dumps({"data": [trace, *calls, agent]}, indent=2))
    expected, _ = read(lines)
    records, bad = read(document)
    assert _kinds(records) == _kinds(expected)
    assert ("ToolCallRecord", "triage", "lookup") in _kinds(records)
    assert bad.count == 0


def test_a_log_whose_first_line_starts_with_a_bracket_is_still_read_by_lines(
    tmp_path: Path,
) -> None:
    from triage_logs import jsonl, run, tool

    path = tmp_path / "events.log"
    path.write_text("[INFO] crew starting\n" + jsonl(run(tool(1), tool(2), tool(3))))
    records, bad = read(path)
    assert ("ToolCallRecord", "scorer", "search") in _kinds(records)
    assert bad.count == 1  # the [INFO] line


@pytest.mark.parametrize("fmt", ["otlp", "jaeger"])
def test_a_document_whose_root_span_comes_first_has_its_traces_end(
    runner: CliRunner, tmp_path: Path, fmt: str
) -> None:
    """An export in start order (the root first, as Jaeger's UI saves it) is held open until
    the document ends, then ended: no trace in it is reported as never finished."""
    doc = json.loads((DOCS / FIXTURES[fmt]).read_text())
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"] if fmt == "otlp" else None
    spans = spans if spans is not None else doc["data"][0]["spans"]
    spans.insert(0, spans.pop())  # the root span, last in the fixture, goes first
    path = tmp_path / FIXTURES[fmt]
    path.write_text(json.dumps(doc, indent=2))
    records, _ = read(path)
    assert [r.trace for _, r in records if isinstance(r, TraceEnd)] == [TRACE]
    code, data = loops(runner, str(path))
    assert code == 1
    assert {f["detector"] for f in data["findings"]} == {"repeated_calls", "limit_hit"}


@pytest.mark.parametrize(("at", "code"), [(0.1, 2), (0.9, 1)])
def test_a_document_that_stops_early_with_most_of_it_unread_is_unreadable(
    runner: CliRunner, tmp_path: Path, at: float, code: int
) -> None:
    """A malformed byte a tenth of the way into an export stops the reading there: the loops
    in the other nine tenths were never read, so the verdict is unreadable (exit 2), never a
    clean or a partial one; a stop near the end leaves the verdict to what was read."""
    text = json.dumps([_otlp_doc()] * 20, indent=2)
    cut = text.index('"resourceSpans"', int(len(text) * at))
    path = tmp_path / "export.json"
    path.write_text(text[:cut] + "@" + text[cut:])
    result = runner.invoke(app, ["triage", "loops", str(path), "--json"])
    assert result.exit_code == code
    data = json.loads(result.stdout)
    assert data["sources"][0]["unreadable"] is (code == 2)
    assert "the rest of the document was skipped" in data["skipped_lines"]["first"][0]["reason"]
    if code == 2:
        assert "most of the document unread" in result.stderr
        table = runner.invoke(app, ["triage", "loops", str(path)])
        assert "verdict: unreadable" in table.stdout
        assert "no loops found" not in table.stdout
        assert "most of the document unread" in table.stdout
