"""A run folder whose events.jsonl is missing, a folder, a FIFO, a link to a device or a loop.

Naming such a run said `no run matching '<id>'`, as if the folder were not there, and sent the
user to `mas runs`, which does not list it. Every command that takes a run id now says which
file is wrong and how (exit 2), never waiting on a FIFO or reading a device.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app

RUN = "20261207T060000000-abc123"


def _nothing(log: Path) -> None:
    assert not log.exists()


def _fifo(log: Path) -> None:
    os.mkfifo(log)


def _device(log: Path) -> None:
    log.symlink_to("/dev/zero")


def _loop(log: Path) -> None:
    log.symlink_to(log.name)


BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing": (_nothing, "is missing"),
    "folder": (lambda log: log.mkdir(), "is a folder"),
    "fifo": (_fifo, "is not a regular file"),
    "device": (_device, "is not a regular file"),
    "loop": (_loop, "is a broken link"),
}
COMMANDS = [["show"], ["cost-report"], ["export", "--to", "spans.json"], ["view", "--no-open"]]
COMMANDS += [["resume"]]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_run_folder_without_a_readable_log_is_named(
    kind: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "home" / "runs" / RUN
    folder.mkdir(parents=True)
    (folder / "state.json").write_text("{}")
    make, what = BROKEN[kind]
    make(folder / "events.jsonl")
    home = ["--home", str(tmp_path / "home")]
    result = CliRunner().invoke(app, [*command, RUN[:22], *home])
    assert result.exit_code == 2, result.stderr
    assert f"run {RUN}: its log {folder / 'events.jsonl'} {what}" in result.stderr
    assert "no run matching" not in result.stderr
