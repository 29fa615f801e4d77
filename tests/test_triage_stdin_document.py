"""A one-line JSON document past the 16 MiB line bound, piped in: streamed, or named and refused.

A pipe hands over what its writer has written so far: the first read may be one blank line.
The sniffer still sees the document's first 64 KiB and streams it (with the ijson path a file
takes); a leading blank line no longer hides it, from a file either. A document whose first
64 KiB do not tell its format cannot be read again from stdin: it is counted, stderr says its
size and how to read it (--log-format), and the exit is 2, never "no loops".
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.events.formats.lines import MAX_LINE_BYTES
from mas_cli.triage.scan import ScanOptions, scan


def _chats(n: int, filler: str, *, first: str = "") -> bytes:
    """n conversations, each calling search 4 times alike, then a long answer; `first` puts a
    big value ahead of everything that tells the format."""
    records: list[dict[str, Any]] = []
    for i in range(n):
        messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
        for j in range(4):
            call = {"id": f"t{i}{j}", "type": "function"}
            call["function"] = {"name": "search", "arguments": '{"q": "x"}'}
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            messages.append({"role": "tool", "tool_call_id": f"t{i}{j}", "content": "r"})
        messages.append({"role": "assistant", "content": filler})
        record = {"blob": first} if first else {}
        records.append(record | {"id": f"c{i}", "messages": messages})
    return json.dumps(records).encode()


class _Trickle(io.RawIOBase):
    """A pipe whose writer is slow: a blank line first, then 4 KiB a read."""

    def __init__(self, data: bytes) -> None:
        self.data, self.sent, self.reads = data, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = 1 if self.reads == 0 else min(len(buffer), 4096)
        self.reads += 1
        piece = self.data[self.sent : self.sent + size]  # not self.data[size:]: 18 MB copied a read
        self.sent += len(piece)
        buffer[: len(piece)] = piece
        return len(piece)


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BufferedReader(_Trickle(data), 4096)


def test_a_trickled_one_line_document_is_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"\n" + _chats(3, "x" * (6 << 20))
    assert len(data) > MAX_LINE_BYTES
    monkeypatch.setattr(sys, "stdin", _Stdin(data))
    report = scan(["-"], ScanOptions())
    assert report.sources == [("-", "chat")]
    assert (report.traces, report.bad.count) == (3, 0)
    assert {f.trace for f in report.findings if f.detector == "repeated_calls"} == {
        "c0",
        "c1",
        "c2",
    }


def test_a_leading_blank_line_does_not_hide_a_big_document_in_a_file(tmp_path: Path) -> None:
    log = tmp_path / "dump.json"
    log.write_bytes(b"\n" + _chats(3, "x" * (6 << 20)))
    result = CliRunner().invoke(app, ["triage", "loops", str(log), "--json"])
    report = json.loads(result.stdout)
    assert (report["sources"][0]["format"], report["traces"]) == ("chat", 3)
    assert report["skipped_lines"]["count"] == 0


def test_an_untold_document_on_stdin_is_named_with_its_size_and_fix() -> None:
    data = _chats(1, "done", first="y" * (17 << 20))  # 17 MiB before any telling key
    result = CliRunner().invoke(app, ["triage", "loops", "-"], input=data)
    assert result.exit_code == 2
    assert "no loops" not in result.stdout + result.stderr
    assert f"a one-line JSON document of {len(data):,} bytes" in result.stderr
    assert "--log-format" in result.stderr
    named = CliRunner().invoke(
        app, ["triage", "loops", "-", "--log-format", "chat", "--json"], input=data
    )
    report = json.loads(named.stdout)
    assert (report["traces"], report["skipped_lines"]["count"]) == (1, 0)
    assert [f["detector"] for f in report["findings"]] == ["repeated_calls"]
