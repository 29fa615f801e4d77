"""`mas triage loops` never says "clean" about input it could not read, and always says what
was read as what."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from triage_logs import TRACE, jsonl, llm, run
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
TEXT = "2026-11-21 02:00:0{n} agent_run agent=scorer iteration={n}\n"


def loops(*argv: str) -> object:
    return runner.invoke(app, ["triage", "loops", *argv])


def test_the_readme_is_unreadable_not_clean() -> None:
    readme = str(ROOT / "README.md")
    result = loops(readme)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "no loops found" not in result.stdout  # type: ignore[attr-defined]
    assert "verdict: unreadable (1 of 1 inputs mostly skipped)" in result.stdout  # type: ignore[attr-defined]
    error = result.stderr.splitlines()[-1]  # type: ignore[attr-defined]
    assert error.startswith(f"error: the verdict is unreadable, not clean: {readme} read as text")
    assert "--log-format" in error
    assert "--pattern" in error
    as_json = json.loads(loops(readme, "--json").stdout)  # type: ignore[attr-defined]
    assert as_json["verdict"] == "unreadable"
    [source] = as_json["sources"]
    assert source["format"] == "text"
    assert source["unreadable"] is True
    assert source["skipped_lines"] * 2 > source["lines"]


@pytest.mark.parametrize(("good", "bad", "code"), [(3, 4, 2), (4, 4, 0), (4, 3, 0)])
def test_more_than_half_the_lines_skipped_is_the_threshold(
    tmp_path: Path, good: int, bad: int, code: int
) -> None:
    log = tmp_path / "app.log"
    lines = [TEXT.format(n=n) for n in range(good)] + ["\n"] * 9 + ["garbage\n"] * bad
    log.write_text("".join(lines))  # blank lines count for neither side
    result = loops(str(log), "--json")
    assert result.exit_code == code  # type: ignore[attr-defined]
    source = json.loads(result.stdout)["sources"][0]  # type: ignore[attr-defined]
    assert (source["lines"], source["skipped_lines"]) == (good + bad, bad)
    assert json.loads(result.stdout)["verdict"] == ("unreadable" if code else "clean")  # type: ignore[attr-defined]


def test_one_unreadable_input_among_good_ones_fails_the_gate(tmp_path: Path) -> None:
    good = tmp_path / "events.jsonl"
    good.write_text(jsonl(run(llm(1))))
    noise = tmp_path / "notes.md"
    noise.write_text("# notes\n\nnot a log\nat all\n")
    result = loops(str(good), str(noise), "--fail-on", "warning")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    out = result.stdout  # type: ignore[attr-defined]
    assert f"  {good}: read as mas · 5 records · no line skipped" in out
    assert f"  {noise}: read as text · 0 records · 3 of 3 lines skipped" in out
    assert "no loops found" not in out


def test_the_header_says_what_was_read_as_what(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(run(llm(1))) + "garbage\n")
    table = loops(str(log))
    assert table.exit_code == 0  # type: ignore[attr-defined]
    assert f"  {log}: read as mas · 5 records · 1 of 6 lines skipped" in table.stdout  # type: ignore[attr-defined]
    md = loops(str(log), "--format", "md").stdout  # type: ignore[attr-defined]
    assert f"- {log}: read as mas · 5 records · 1 of 6 lines skipped" in md
    assert "No loops found." in md


def test_many_inputs_are_counted_per_format_and_those_with_skips_listed(tmp_path: Path) -> None:
    logs = []
    for n in range(7):
        path = tmp_path / f"run{n}.jsonl"
        path.write_text(jsonl(run(llm(1))) + ("garbage\n" if n == 3 else ""))
        logs.append(str(path))
    result = loops(*logs)
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert f"  {logs[3]}: read as mas · 5 records · 1 of 6 lines skipped" in result.stdout  # type: ignore[attr-defined]
    assert "  6 files read as mas · 30 records · none skipped" in result.stdout  # type: ignore[attr-defined]


def test_garbage_on_standard_input_is_unreadable() -> None:
    text = (ROOT / "README.md").read_text()
    result = runner.invoke(app, ["triage", "loops", "-"], input=text)
    assert result.exit_code == 2
    assert "  standard input: read as text · " in result.stdout
    assert "error: the verdict is unreadable, not clean: standard input read as text" in (
        result.stderr
    )


def _whole_lines(packed: bytes) -> int:
    """The whole lines a gzip stream's first bytes hold."""
    return zlib.decompressobj(31).decompress(packed).count(b"\n")


@pytest.mark.parametrize("keep", [10, 60, 454, -4])
def test_a_gzip_log_cut_short_says_so_and_how_much_was_read(tmp_path: Path, keep: int) -> None:
    # A cut in the header said "empty, or only blank lines"; one after a few lines said
    # nothing at all (4 records of 33 read, "no line skipped"): the read ahead for the format
    # sniffer met the cut and let it pass.
    text = jsonl(run(*(llm(n) for n in range(1, 30))))
    packed = gzip.compress(text.encode(), mtime=0)[:keep]
    records = _whole_lines(packed)
    log = tmp_path / "log.jsonl.gz"
    log.write_bytes(packed)
    result = loops(str(log))
    said = result.stderr  # type: ignore[attr-defined]
    assert "internal error" not in said
    if records:
        assert result.exit_code in (0, 1), said  # type: ignore[attr-defined]
        line = f"{log}:{records + 1}: the gzip stream ends early: {records} records read before"
        assert line in said
        return
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert f"{log}: the gzip stream ends early, with no record whole before the cut" in said
    assert "empty" not in said
    assert "gzip -t FILE" in said


def test_a_gzip_chat_document_cut_short_is_no_internal_error(tmp_path: Path) -> None:
    chat = [{"role": "user", "content": "hi " * 50}, {"role": "assistant", "content": "ok"}] * 30
    packed = gzip.compress(json.dumps(chat).encode(), mtime=0)
    log = tmp_path / "chat.json.gz"
    log.write_bytes(packed[: len(packed) // 2])
    result = loops(str(log))
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "the gzip stream ends early" in result.stderr  # type: ignore[attr-defined]


def test_one_record_is_said_as_one(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(TEXT.format(n=1) + "garbage\n" * 2)
    result = loops(str(log))
    assert f"{log}: read as text · 1 record · 2 of 3 lines skipped" in result.stdout  # type: ignore[attr-defined]
    assert f"{log} read as text: 2 of 3 lines skipped, 1 record" in result.stderr  # type: ignore[attr-defined]


def test_a_log_cut_while_it_is_read_is_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log truncated between the start of the read and its end (rotated by `truncate`, a
    copy started again) was read up to its new end and reported "no line skipped"."""
    from mas_cli.triage import scan

    log = tmp_path / "events.jsonl"
    one = jsonl(run(llm(1)))
    runs = [one.replace('"r1"', f'"r{n}"').replace(TRACE, f"{n:032x}") for n in range(4)]
    log.write_text("".join(runs))
    size, keep = log.stat().st_size, len("".join(runs[:2]).encode())
    read = scan._scan_mas

    def cut_then_read(path: Path, unit: int, options: scan.ScanOptions) -> scan.Partial:
        with path.open("r+b") as handle:
            handle.truncate(keep)  # at a line's end: every line left is whole
        return read(path, unit, options)

    monkeypatch.setattr(scan, "_scan_mas", cut_then_read)
    result = loops(str(log))
    out = result.stdout  # type: ignore[attr-defined]
    assert "no line skipped" not in out
    assert f"{log}: read as mas · 10 records · 1 of 10 lines skipped" in out
    said = out + result.stderr  # type: ignore[attr-defined]
    assert f"the file shrank from {size:,} to {keep:,} bytes while it was read" in said
