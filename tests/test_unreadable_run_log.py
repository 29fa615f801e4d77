"""A run log with not one event in it is bad input (exit 2) for every report of one run.

`cost-report`, `show`, `export --to` and `view` named a file of garbage (or another tool's log,
or a run log whose every line was damaged) and showed an empty run with exit 0: a CI gate on
`mas cost-report` passed on a file it could not read. `view` read a gzipped run log as raw
bytes (every line unreadable). A log with some events keeps its report (the bad lines are
counted), and an empty log (a run killed before its first event) still shows as killed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner
from viewkit import ROOT, run_crew

from mas_cli.cli import app

REPORTS = [
    ["cost-report"],
    ["show"],
    ["export", "--to", "{out}/spans.json"],
    ["view", "--no-open", "--out", "{out}/view.html"],
]
IDS = [args[0] for args in REPORTS]


def _invoke(args: list[str], log: Path, out: Path) -> tuple[int, str, str]:
    filled = [arg.format(out=out) for arg in args]
    result = CliRunner().invoke(app, [*filled, str(log)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    return run_crew(ROOT / "crews" / "fraud-review" / "crew.yaml", home)


@pytest.mark.parametrize("args", REPORTS, ids=IDS)
def test_a_log_without_one_event_is_bad_input(args: list[str], tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b'garbage\n{"x": 1}\n\xff\xfe not utf-8\n')
    code, _, err = _invoke(args, log, tmp_path)
    assert code == 2, err
    assert f"{log}:1:" in err
    assert "not one of its 3 lines is a mas event" in err
    assert "mas triage loops FILE" in err  # the fix for another tool's log
    assert "internal error" not in err


@pytest.mark.parametrize("args", REPORTS, ids=IDS)
def test_a_log_with_some_events_is_still_reported(
    args: list[str], run_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"garbage\n" + (run_dir / "events.jsonl").read_bytes())
    code, _, err = _invoke(args, log, tmp_path)
    assert code == 0, err


@pytest.mark.parametrize("args", REPORTS, ids=IDS)
def test_an_empty_log_is_a_run_killed_before_its_first_event(
    args: list[str], tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"")
    code, _, err = _invoke(args, log, tmp_path)
    assert code == 0, err


def test_view_reads_a_gzipped_run_log(run_dir: Path, tmp_path: Path) -> None:
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress((run_dir / "events.jsonl").read_bytes()))
    code, _, err = _invoke(REPORTS[3], packed, tmp_path)
    assert code == 0, err
    page = (tmp_path / "view.html").read_text()
    assert "unreadable line" not in page
    assert "mas view · fraud-review" in page
    assert "decide (aggregator) ok" in page


def test_a_file_that_only_looks_exported_is_bad_input(tmp_path: Path) -> None:
    """A file whose first bytes are those of `mas export` output is read as OTLP spans; with
    no span in it, cost-report showed an empty run and exit 0 too."""
    log = tmp_path / "spans.json"
    log.write_text('{"resourceSpans": garbage\n')
    code, _, err = _invoke(["cost-report"], log, tmp_path)
    assert code == 2, err
    assert f"{log}:1:" in err
    assert "its only line is not a mas event" in err
