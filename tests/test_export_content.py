"""`mas export` on what a user may hand it: content only when asked and never a secret, a batch,
a run that never finished, a log whose ids were edited by hand, names that match nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from otlpreceiver import Receiver
from test_export import spans
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CREW = ROOT / "crews" / "fraud-review" / "crew.yaml"
CANARY = "canary-7f3a9c1e5b2d4086-do-not-leak"
runner = CliRunner()


def run(home: Path, *extra: str) -> Path:
    args = ["run", str(CREW), "--offline", "--home", str(home), "-q", *extra]
    assert runner.invoke(app, args).exit_code == 0
    return sorted((home / "runs").glob("*/events.jsonl"))[-1]


def export(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["export", *args])
    assert result.exit_code == code, result.output
    return result


def test_content_only_with_include_content(tmp_path: Path) -> None:
    log = run(tmp_path, "--input", "transaction=tx-42: $12 to a known payee")
    plain, full = tmp_path / "plain.jsonl", tmp_path / "full.jsonl"
    export(str(log), "--to", str(plain))
    export(str(log), "--to", str(full), "--include-content")
    assert "tx-42" not in plain.read_text(encoding="utf-8")
    chats = [s for s in spans(full) if s["name"].startswith("chat ")]
    assert chats
    for chat in chats:
        messages = json.loads(chat["attrs"]["gen_ai.input.messages"])
        assert messages[0]["role"] == "user"
        assert messages[0]["parts"][0]["type"] == "text"
        assert json.loads(chat["attrs"]["gen_ai.output.messages"])[0]["role"] == "assistant"
        assert json.loads(chat["attrs"]["gen_ai.system_instructions"])[0]["content"]
    first = json.loads(chats[0]["attrs"]["gen_ai.input.messages"])
    assert any("tx-42" in m["parts"][0]["content"] for m in first)
    root = next(s for s in spans(full) if "parentSpanId" not in s)
    assert "tx-42" in json.loads(root["attrs"]["mas.inputs"])["transaction"]


@pytest.mark.parametrize("known_at_run", [True, False])
def test_a_secret_never_reaches_an_exported_span(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, known_at_run: bool
) -> None:
    """The canary is a secret-named variable's value, put in the prompt through an input. Known
    when the run ran, the run masked it; set only where the export runs, the export masks it."""
    if known_at_run:
        monkeypatch.setenv("MAS_CANARY_TOKEN", CANARY)
    log = run(tmp_path, "--input", f"transaction=tx-1 paid with key {CANARY}")
    assert (CANARY in (log.parent / "llm.jsonl").read_text()) is not known_at_run
    monkeypatch.setenv("MAS_CANARY_TOKEN", CANARY)
    out = tmp_path / "out.jsonl"
    result = export(str(log), "--to", str(out), "--include-content")
    text = out.read_text(encoding="utf-8")
    assert CANARY not in text
    assert CANARY not in result.output
    assert "***" in text  # masked where it was, not dropped with its message


def test_a_batch_exports_one_trace_per_item(tmp_path: Path) -> None:
    logs = [run(tmp_path, "--input", f"transaction=tx-{n}") for n in range(2)]
    batch = tmp_path / "batches" / "20261206T000000-b1"
    batch.mkdir(parents=True)
    lines = [
        {"key": str(n), "run_id": log.parent.name, "status": "ok", "cost_usd": 0.0}
        for n, log in enumerate(logs)
    ]
    (batch / "results.jsonl").write_text(
        "\n".join(json.dumps(line) for line in lines) + "\nnot json\n", encoding="utf-8"
    )
    out = tmp_path / "batch.jsonl"
    result = export("20261206T000000", "--home", str(tmp_path), "--to", str(out))
    assert "exported 2 runs" in result.stderr
    found = spans(out)
    roots = [s for s in found if "parentSpanId" not in s]
    assert len(roots) == 2
    assert {s["traceId"] for s in found} == {r["traceId"] for r in roots}
    report = runner.invoke(app, ["cost-report", str(out), "--json"])
    assert [r["run_id"] for r in json.loads(report.stdout)["runs"]] == [
        log.parent.name for log in logs
    ]


def test_a_run_that_never_finished_exports_whole_trees(tmp_path: Path) -> None:
    log = run(tmp_path)
    lines = log.read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if '"type":"task_finished"' in line)
    log.write_text("\n".join(lines[:cut]) + "\n", encoding="utf-8")  # killed mid-run
    out = tmp_path / "out.jsonl"
    export(str(log), "--to", str(out))
    found = spans(out)
    ids = {s["spanId"] for s in found}
    root = next(s for s in found if "parentSpanId" not in s)
    assert root["attrs"]["mas.unfinished"] is True
    assert root["status"]["code"] == 2
    assert all(s is root or s["parentSpanId"] in ids for s in found)
    ours = runner.invoke(app, ["cost-report", str(log), "--json"])
    theirs = runner.invoke(app, ["cost-report", str(out), "--json"])
    assert json.loads(theirs.stdout)["flags"] == json.loads(ours.stdout)["flags"]
    assert json.loads(theirs.stdout)["total"] == json.loads(ours.stdout)["total"]


def test_ids_edited_by_hand_still_make_valid_linked_spans(tmp_path: Path) -> None:
    log = run(tmp_path)
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    for event in events:
        event["trace_id"] = "not-a-hex-trace"
        event["span_id"] = "x" + event["span_id"]  # 17 characters
        event["parent_id"] = "x" + event["parent_id"] if event.get("parent_id") else None
    log.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    export(str(log), "--to", str(out))
    found = spans(out)
    ids = {s["spanId"] for s in found}
    assert {len(s["traceId"]) for s in found} == {32}
    assert {len(i) for i in ids} == {16}
    assert all("parentSpanId" not in s or s["parentSpanId"] in ids for s in found)


def test_names_that_match_nothing_are_usage_errors(tmp_path: Path) -> None:
    result = export("--home", str(tmp_path), code=2)
    assert "no runs under" in result.stderr
    run(tmp_path)
    result = export("nope", "--home", str(tmp_path), code=2)
    assert "no run matching 'nope'" in result.stderr
    result = export("--last", "--to", "a.jsonl", "--endpoint", "http://x", code=2)
    assert "cannot be combined" in result.stderr
    result = export("--last", "--home", str(tmp_path), "--to", str(tmp_path), code=2)
    assert f"cannot write {tmp_path}" in result.stderr


def test_without_to_the_lines_go_to_stdout_and_the_summary_to_stderr(tmp_path: Path) -> None:
    log = run(tmp_path)
    result = export("--last", "--home", str(tmp_path))
    lines = result.stdout.splitlines()
    assert lines
    assert all(json.loads(line)["resourceSpans"] for line in lines)
    assert "exported 1 run" in result.stderr
    assert "to stdout" in result.stderr
    assert (
        json.loads(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
        == (json.loads(log.read_text(encoding="utf-8").splitlines()[0])["trace_id"])
    )


def test_an_edited_export_is_read_around_never_a_crash(tmp_path: Path) -> None:
    # found by the fuzz tests: a span attribute without its "key" crashed cost-report
    log = run(tmp_path)
    out = tmp_path / "run.jsonl"
    export(str(log.parent), "--to", str(out))
    doc = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    del spans[0]["attributes"][0]["key"]
    spans.append("not a span")
    out.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    for argv in (["cost-report", str(out), "--json"], ["triage", "loops", str(out), "--json"]):
        result = runner.invoke(app, argv)
        assert result.exit_code in (0, 1, 2), (argv, result.output)
        assert "internal error" not in result.output


def test_a_collector_with_a_size_limit_gets_every_span_in_smaller_requests(
    tmp_path: Path,
) -> None:
    """A collector refuses a request past its limit (the OpenTelemetry collector's is 20 MiB):
    with content, 512 spans of a long run's histories pass it, and the whole export failed with
    HTTP 413, with no way to send less at a time."""
    log = run(tmp_path)
    with Receiver("small") as receiver:
        result = export(str(log), "--endpoint", receiver.url, "--include-content")
        spans = receiver.wait_for(11)
    assert "exported 1 run, 11 spans" in result.stderr
    assert len({s.span_id for s in spans}) == 11
    assert receiver.requests > 2  # refused whole, then taken in smaller requests


def test_an_output_that_is_the_log_read_is_refused_not_emptied(tmp_path: Path) -> None:
    """`--to` its own events.jsonl emptied the run's log before reading it: exit 0, "exported
    1 run, 0 spans", and the run's log gone; `mas view --out` replaced it with the page."""
    log = run(tmp_path)
    before = log.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(log)
    for argv in (
        ["export", str(log.parent), "--to", str(log)],
        ["export", str(log), "--to", str(link)],
        ["export", str(log), "--include-content", "--to", str(log.parent / "llm.jsonl")],
        ["view", str(log), "--no-open", "--out", str(log)],
    ):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, (argv, result.output)
        assert "which this command reads: writing it would destroy it" in result.stderr
    assert log.read_bytes() == before
    assert (log.parent / "llm.jsonl").stat().st_size > 0


def test_a_disk_that_takes_nothing_is_a_clear_error(tmp_path: Path) -> None:
    """Writing --to a full disk (here /dev/full, opened for writing: never replaced) was an
    internal error."""
    run(tmp_path)
    result = export("--home", str(tmp_path), "--to", "/dev/full", code=1)
    assert "cannot write /dev/full: no space left on device" in result.stderr
    assert "internal error" not in result.output


def _lone_surrogates(log: Path) -> None:
    """An edited recording: each message's text begins with an escaped lone surrogate."""
    llm = log.parent / "llm.jsonl"
    text = llm.read_text(encoding="utf-8").replace('"content": "', '"content": "\\ud800 ')
    llm.write_text(text.replace('"content":"', '"content":"\\udfff '), encoding="utf-8")
    assert "\\ud800" in llm.read_text(encoding="utf-8") or "\\udfff" in llm.read_text()


def test_a_lone_surrogate_in_the_recording_becomes_u_fffd_in_the_spans(tmp_path: Path) -> None:
    """The SDK's encoder dropped each content attribute holding one, printing a traceback per
    attribute on stderr (to a file), or failed the export (to an endpoint)."""
    log = run(tmp_path)
    _lone_surrogates(log)
    out = tmp_path / "out.jsonl"
    result = export(str(log), "--to", str(out), "--include-content")
    assert "Traceback" not in result.output
    chats = [s for s in spans(out) if s["name"].startswith("chat ")]
    assert all("gen_ai.input.messages" in c["attrs"] for c in chats)
    assert "\ufffd" in out.read_text(encoding="utf-8")
    with Receiver() as receiver:
        sent = export(str(log), "--endpoint", receiver.url, "--include-content")
        assert len(receiver.wait_for(11)) == 11
    assert "Traceback" not in sent.output


def test_a_file_name_that_reads_as_markup_is_named_as_it_is(tmp_path: Path) -> None:
    """The summary put --to into rich markup: 'x[bold]y.jsonl' was said as 'xy.jsonl', and
    'a[/]x.jsonl' (a folder 'a[') was 'internal error: MarkupError' after the export."""
    log = run(tmp_path)
    (tmp_path / "a[").mkdir()
    for name in ("x[bold]y.jsonl", "a[/]x.jsonl"):
        result = export(str(log), "--to", str(tmp_path / name))
        assert f"spans to {tmp_path / name}" in result.stderr
        assert (tmp_path / name).stat().st_size > 0


def test_a_run_named_twice_is_exported_once_and_a_pruned_batch_run_is_named(
    tmp_path: Path,
) -> None:
    # `mas export BATCH RUN_OF_IT` exported that run twice (two traces with one trace id), and
    # a batch whose runs `mas runs prune` removed lost them without a word.
    logs = [run(tmp_path, "--input", f"transaction=tx-{n}") for n in range(2)]
    batch = tmp_path / "batches" / "20261206T000000-b1"
    batch.mkdir(parents=True)
    ids = [log.parent.name for log in logs] + ["20260101T000000-pruned"]
    (batch / "results.jsonl").write_text(
        "".join(json.dumps({"key": str(n), "run_id": r}) + "\n" for n, r in enumerate(ids)),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    home = ["--home", str(tmp_path), "--to", str(out)]
    result = export(batch.name, logs[0].parent.name, str(logs[1]), *home)
    assert "exported 2 runs" in result.stderr
    roots = [s for s in spans(out) if "parentSpanId" not in s]
    assert sorted(r["traceId"] for r in roots) == sorted({r["traceId"] for r in roots})
    assert len(roots) == 2
    assert "1 run of the batch was not exported" in result.stderr
    assert "20260101T000000-pruned" in result.stderr
    result = export(logs[0].parent.name, logs[0].parent.name, *home)
    assert "exported 1 run," in result.stderr
    assert "warning" not in result.stderr
