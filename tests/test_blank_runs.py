"""Runs of blank lines are read past a buffer at a time, never a Python step per line (a gzip
of 256 MB of newlines took 313 s of CPU in `mas triage loops`), and the lines after them keep
their true numbers in every message. Speed is measured in the commit, not here: these tests
check that no reader is handed the blank lines one by one, and the numbers."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from fuzzlogs import cli
from triage_logs import jsonl, llm, otlp_line, otlp_span, run, tool

from mas_cli.events.formats import mas
from mas_cli.events.formats.source import line_source
from mas_cli.triage.scan import ScanOptions, scan
from mas_cli.triage.tail import Tail

BLANKS = 1_100_000  # more than a million blank lines
EVENTS = jsonl(run(llm(1), tool(1))).encode().splitlines(keepends=True)
BAD_LINE = 3 + BLANKS + 1  # three events, the blank run, then the bad line


def _write(path: Path, *parts: bytes) -> Path:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as out:
        for part in parts:
            out.write(part)
    return path


def _log(tmp_path: Path, zipped: bool, blank: bytes = b"\n") -> Path:
    """A run log cut in two by a long run of blank lines and a bad line."""
    name = "events.jsonl.gz" if zipped else "events.jsonl"
    (tmp_path / "run").mkdir(exist_ok=True)
    parts = (*EVENTS[:3], blank * BLANKS, b"{not json\n", *EVENTS[3:])
    return _write(tmp_path / "run" / name, *parts)


@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
def test_a_line_source_hands_over_no_blank_line_of_a_long_run(tmp_path: Path, zipped: bool) -> None:
    path = _write(tmp_path / ("a.log.gz" if zipped else "a.log"), b"A\n", b"\n" * BLANKS, b"B\n")
    source = line_source(str(path))
    try:
        numbered = list(source)
    finally:
        source.close()
    assert len(numbered) <= 20 + 2  # the lines read ahead for sniffing, then B alone
    assert numbered[0] == (1, b"A\n")
    assert numbered[-1] == (BLANKS + 2, b"B\n")
    assert (source.read, source.blank) == (BLANKS + 2, BLANKS)


@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
def test_our_log_s_blank_lines_are_never_decoded_one_by_one(
    tmp_path: Path, zipped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[int] = []
    one_line = mas._decode_line

    def counted(line: bytes, source: str, number: int, *args: Any) -> mas.Line:
        decoded.append(number)
        return one_line(line, source, number, *args)

    monkeypatch.setattr(mas, "_decode_line", counted)
    report = scan([str(_log(tmp_path, zipped))], ScanOptions(fmt="mas", workers=1))
    assert len(decoded) < 100  # the lines around the bad one, never the blank run
    assert [(b.line, b.reason[:8]) for b in report.bad.first] == [(BAD_LINE, "not JSON")]


@pytest.mark.parametrize("blank", [b"\n", b" \t\r\n"], ids=["newlines", "spaces"])
@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
def test_every_report_names_a_bad_line_after_a_long_blank_run_at_its_true_number(
    tmp_path: Path, zipped: bool, blank: bytes
) -> None:
    log = _log(tmp_path, zipped, blank)
    loops = json.loads(cli("triage", "loops", str(log), "--json").stdout)
    assert [b["line"] for b in loops["skipped_lines"]["first"]] == [BAD_LINE]
    where = f"{log}:{BAD_LINE}: "
    assert where in cli("cost-report", str(log)).output
    assert where in cli("show", str(log)).output
    assert loops["records"] == len(EVENTS)


@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
def test_another_format_s_bad_line_after_a_long_blank_run_keeps_its_number(
    tmp_path: Path, zipped: bool
) -> None:
    span = otlp_line(otlp_span("a1", "", "invoke_agent scorer", {"gen_ai.agent.name": "x"}))
    path = tmp_path / ("spans.jsonl.gz" if zipped else "spans.jsonl")
    _write(path, span.encode(), b"\n" * BLANKS, b"{not json\n", span.encode())
    report = scan([str(path)], ScanOptions(fmt="otlp", workers=1))
    assert [b.line for b in report.bad.first] == [BLANKS + 2]


@pytest.mark.parametrize("blank", [b"\n", b" \t\r\n"], ids=["newlines", "spaces"])
def test_follow_hands_over_no_blank_line_of_a_long_run(tmp_path: Path, blank: bytes) -> None:
    path = _write(tmp_path / "live.log", b"A\n", blank * BLANKS, b"B\n")
    got = list(itertools.islice(Tail(str(path)).lines(), 2))  # a file is followed for ever
    assert got == [(1, b"A\n"), (BLANKS + 2, b"B\n")]
