"""A line-per-record log whose first line is longer than the sniffer's 64 KiB peek.

Its first line did not end inside the peek, so the log was taken for one JSON document: a mas
log then read as text (15 of 17 lines skipped, "no loops"), a chat log as one conversation (a
third of its records, "no line skipped"), an OpenAI Agents log as empty. A long first line is
an ordinary record (a run_started or a chat with a long prompt) and must read as the same log.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mas_cli.events.formats.source import PEEK_BYTES
from mas_cli.triage.scan import ScanOptions, scan

FIXTURES = Path(__file__).parent / "fixtures"
LOGS = [
    FIXTURES / "chats" / "openai.jsonl",
    FIXTURES / "chats" / "magentic_one.jsonl",
    FIXTURES / "frameworks" / "openai_agents.jsonl",
    FIXTURES / "frameworks" / "crewai.otlp.jsonl",
]


def _lengthen(value: Any) -> bool:
    """Append to the first free-text string of a record (never an id, a name or a type)."""
    text = {"content", "input", "output", "value", "stringValue", "crew_path", "workflow_name"}
    if not isinstance(value, dict | list):
        return False
    for key, item in list(value.items() if isinstance(value, dict) else enumerate(value)):
        if isinstance(item, str) and key in text:
            value[key] = item + " " + "lorem " * (PEEK_BYTES // 4)
            return True
        if _lengthen(item):
            return True
    return False


def _with_long_first_line(log: Path, out: Path) -> Path:
    lines = log.read_text().splitlines()
    first = json.loads(lines[0])
    assert _lengthen(first)
    out.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    assert len(out.read_bytes().split(b"\n", 1)[0]) > PEEK_BYTES
    return out


def _summary(log: Path | str) -> tuple[list[tuple[str, str]], int, int, int]:
    report = scan([str(log)], ScanOptions(workers=1))
    return [("", fmt) for _, fmt in report.sources], report.records, report.traces, report.bad.count


def _mas_log(home: Path) -> Path:
    crew = Path(__file__).parents[1] / "crews" / "fraud-review" / "crew.yaml"
    run = [sys.executable, "-m", "mas_cli", "run", str(crew), "--offline", "-q", "--home"]
    subprocess.run([*run, str(home)], check=True, capture_output=True)
    return next(home.glob("runs/*/events.jsonl"))


@pytest.mark.parametrize("log", LOGS, ids=[log.name for log in LOGS])
def test_a_long_first_line_reads_as_the_same_log(log: Path, tmp_path: Path) -> None:
    long = _with_long_first_line(log, tmp_path / log.name)
    assert _summary(long) == _summary(log)


class _Pipe(io.RawIOBase):
    """A pipe: it cannot seek, and hands over at most 4 KiB a read."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece, self.data = self.data[:4096], self.data[4096:]
        buffer[: len(piece)] = piece
        return len(piece)


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BufferedReader(_Pipe(data), 4096)


@pytest.mark.parametrize("log", LOGS, ids=[log.name for log in LOGS])
def test_a_long_first_line_piped_in_reads_as_the_same_log(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = _with_long_first_line(log, tmp_path / log.name)
    monkeypatch.setattr(sys, "stdin", _Stdin(long.read_bytes()))
    assert _summary("-")[1:] == _summary(log)[1:]


def test_a_mas_log_with_a_long_run_started_reads_as_mas(tmp_path: Path) -> None:
    log = _mas_log(tmp_path / "home")
    long = _with_long_first_line(log, tmp_path / "events.jsonl")
    assert _summary(long) == _summary(log)
    assert _summary(long)[0] == [("", "mas")]


def test_a_gzipped_log_with_a_long_first_line_reads_the_same(tmp_path: Path) -> None:
    import gzip

    plain = _with_long_first_line(LOGS[0], tmp_path / "chat.jsonl")
    packed = tmp_path / "chat.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert _summary(packed) == _summary(LOGS[0])


@pytest.mark.parametrize("end", ["", "\n"], ids=["no-newline", "newline"])
def test_a_one_line_document_longer_than_the_peek_still_reads_as_one(
    tmp_path: Path, end: str
) -> None:
    for name in ("jaeger-export.json", "langfuse-trace.json", "otlp-export.json"):
        original = FIXTURES / "docs" / name
        doc = json.loads(original.read_text())
        assert _lengthen(doc)
        flat = tmp_path / name
        flat.write_text(json.dumps(doc) + end)
        assert flat.stat().st_size > PEEK_BYTES
        assert _summary(flat) == _summary(original)


DAMAGE = {
    "deep": b"[" * 100_000 + b"]" * 100_000,  # too deep to decode
    "cut": b'{"role": "user", "content": "' + b"x" * (PEEK_BYTES * 2),  # never closed
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("log", LOGS[:3], ids=[log.name for log in LOGS[:3]])
@pytest.mark.parametrize("piped", [False, True], ids=["file", "pipe"])
def test_a_long_damaged_first_line_is_one_bad_line(
    log: Path, damage: str, piped: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged first line longer than the peek hid every line after it (the log was taken
    for a document): it is one bad line, and the lines after it read as they do alone."""
    rest = log.read_bytes().split(b"\n", 1)[1]
    alone = tmp_path / "rest.jsonl"
    alone.write_bytes(rest)
    long = tmp_path / "long.jsonl"
    long.write_bytes(DAMAGE[damage] + b"\n" + rest)
    if piped:
        monkeypatch.setattr(sys, "stdin", _Stdin(long.read_bytes()))
    fmt, records, traces, bad = _summary("-" if piped else long)
    assert (fmt[0][1], records, traces, bad) == (_summary(alone)[0][0][1], *_summary(alone)[1:3], 1)
