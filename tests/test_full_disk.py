"""A full disk and a read-only home, for real: `mas` runs in a child process on a small tmpfs
(mounted in a private mount namespace, so nothing outlives the test) or under RLIMIT_FSIZE.

Both need no network. The tmpfs tests need root and `unshare` (CI runs as root); without them
they fail and say so, never skip. Every file left behind is read back strictly: each log line
whole JSON ending in a newline, output.json and state.json whole or absent.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from toolcrew import subprocess_env
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
FRAUD = ROOT / "crews" / "fraud-review" / "crew.yaml"
RESEARCH = ROOT / "crews" / "research-pipeline" / "crew.yaml"
REPORT = "".join(f"line {i:05d} of the report\n" for i in range(4000))  # 100 KB
FULL = "no space left on device"


def strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def mas_argv(*argv: str) -> list[str]:
    return [sys.executable, "-m", "mas_cli", *argv]


def on_tmpfs(tmp_path: Path, size: str, *argv: str, read_only: bool = False) -> Any:
    """Run `mas ARGV` with its home on a fresh tmpfs of `size`; copy the home out for checks."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail("this test mounts a small tmpfs: run it as root with unshare (CI does)")
    mount, home, out = tmp_path / "mnt", tmp_path / "mnt" / "home", tmp_path / "out"
    mount.mkdir()
    out.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    script = (
        f"mount -t tmpfs -o {options} tmpfs {mount} || exit 99; mkdir -p {home} 2>/dev/null; "
        f"{shlex.join(argv)}; rc=$?; cp -a {mount}/. {out}/ 2>/dev/null; exit $rc"
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env={**subprocess_env(), "MAS_HOME": str(home)},
        timeout=120,
    )
    if done.returncode == 99:
        pytest.fail(f"cannot mount a tmpfs here (root is needed; CI runs as root): {done.stderr}")
    return done, out / "home"


def the_run(home: Path) -> Path:
    (folder,) = (home / "runs").iterdir()
    return folder


def assert_files_whole(folder: Path) -> list[dict[str, Any]]:
    """Every file in a run folder is whole; the events, as read back."""
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert not list(folder.glob("*.partial"))
    for log in folder.glob("*.jsonl"):
        text = log.read_text(encoding="utf-8")
        assert text == "" or text.endswith("\n"), f"{log.name} ends in half a line"
        for line in text.splitlines():
            strict(line)
    for name in ("output.json", "state.json"):
        if (folder / name).exists():
            strict((folder / name).read_text(encoding="utf-8"))
    events = folder / "events.jsonl"
    return [strict(line) for line in events.read_text(encoding="utf-8").splitlines()]


def big_crew(tmp_path: Path) -> Path:
    crew = {
        "name": "report",
        "agents": {"writer": {"role": "Writer", "model": "offline", "script": [{"text": REPORT}]}},
        "tasks": [{"id": "write", "agent": "writer", "prompt": "Write the report."}],
    }
    path = tmp_path / "crew.yaml"
    path.write_text(yaml.safe_dump(crew), encoding="utf-8")
    return path


def test_a_full_disk_stops_the_run_clearly_and_leaves_every_file_whole(tmp_path: Path) -> None:
    # The answer fits in memory but not on the disk: its record in llm.jsonl is refused.
    crew = big_crew(tmp_path)
    done, home = on_tmpfs(tmp_path, "160k", *mas_argv("run", str(crew), "--offline"))
    assert done.returncode == 1, done.stderr
    assert REPORT in done.stdout  # the crew's output, printed all the same
    assert "internal error" not in done.stderr
    assert "Traceback" not in done.stderr
    assert f"llm.jsonl: {FULL}; free some space" in done.stderr
    folder = the_run(home)
    events = assert_files_whole(folder)
    finished = events[-1]
    assert (finished["type"], finished["status"]) == ("run_finished", "failed")
    assert f"llm.jsonl: {FULL}" in finished["reason"]
    output = strict((folder / "output.json").read_text(encoding="utf-8"))
    assert (output["status"], output["tasks"]["write"]["output"]) == ("failed", REPORT)
    replay = CliRunner().invoke(
        app, ["run", str(crew), "--home", str(home), "--replay", folder.name]
    )
    assert replay.exit_code == 1  # nothing was recorded: a clear miss, not a broken file
    assert "was not recorded" in replay.stderr
    assert "internal error" not in replay.stderr


def test_a_disk_that_fills_among_many_small_writes_leaves_whole_files(tmp_path: Path) -> None:
    # A run of several tasks and tools: the cache, both logs and the files all share the room.
    done, home = on_tmpfs(tmp_path, "100k", *mas_argv("run", str(FRAUD), "--offline"))
    assert done.returncode in (0, 1), done.stderr
    assert "internal error" not in done.stderr
    assert "Traceback" not in done.stderr
    if done.returncode == 1:
        assert FULL in done.stderr
    if (home / "runs").is_dir():
        assert_files_whole(the_run(home))


def test_a_file_size_limit_cuts_the_log_at_a_whole_line(tmp_path: Path) -> None:
    # RLIMIT_FSIZE: the kernel takes part of the line that crosses the limit, then refuses.
    limit = 6000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    home = tmp_path / "home"
    done = subprocess.run(
        mas_argv("run", str(FRAUD), "--offline", "--home", str(home)),
        check=False,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        preexec_fn=small_files,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "file too large" in done.stderr
    assert "internal error" not in done.stderr
    folder = the_run(home)
    assert_files_whole(folder)
    assert (folder / "events.jsonl").stat().st_size <= limit
    output = strict((folder / "output.json").read_text(encoding="utf-8"))
    assert output["status"] == "failed"
    assert "file too large" in output["reason"]


WRITERS = pytest.mark.parametrize(
    "argv",
    [
        ["run", str(RESEARCH), "--offline", "-q"],
        ["cache", "clear"],
        ["tool-test", "search_notes", "--crew", str(RESEARCH), "--args", '{"query": "x"}'],
    ],
    ids=["run", "cache-clear", "tool-test"],
)
"""Every command that writes in the home."""


@WRITERS
def test_a_read_only_home_is_a_clear_usage_error(tmp_path: Path, argv: list[str]) -> None:
    done, _ = on_tmpfs(tmp_path, "64k", *mas_argv(*argv), read_only=True)
    assert done.returncode == 2, done.stderr
    assert "read-only file system" in done.stderr
    assert "--home" in done.stderr  # the fix
    assert str(tmp_path / "mnt" / "home") in done.stderr  # the path
    assert "internal error" not in done.stderr


@WRITERS
def test_a_home_that_is_a_file_is_a_clear_usage_error(tmp_path: Path, argv: list[str]) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(app, [*argv, "--home", str(home)])
    assert result.exit_code == 2, result.output
    assert f"{home}): a file is in the way of a folder" in result.stderr
    assert "--home" in result.stderr
    assert home.read_text(encoding="utf-8") == "not a folder"


def test_on_a_full_disk_cache_stats_says_so_and_cache_clear_frees_the_space(
    tmp_path: Path,
) -> None:
    support = ROOT / "crews" / "support-ticket" / "crew.yaml"
    run = shlex.join(mas_argv("run", str(support), "--offline", "-q"))
    stats, clear = shlex.join(mas_argv("cache", "stats")), shlex.join(mas_argv("cache", "clear"))
    script = (
        f"{run} >/dev/null 2>&1; {run} >/dev/null 2>&1; "  # the second fills the disk
        f"echo STATS; {stats} 2>&1; echo rc=$?; echo CLEAR; {clear} 2>&1; echo rc=$?; "
        f"echo AGAIN; {stats} 2>&1; echo rc=$?"
    )
    done, _home = on_tmpfs(tmp_path, "64k", "sh", "-c", script)
    first = done.stdout.split("STATS")[1].split("CLEAR")[0]
    cleared, again = done.stdout.split("CLEAR")[1].split("AGAIN")
    assert "cannot be used: no space left on device (free some space, or delete" in first
    assert "rc=2" in first
    assert "rc=0" in cleared, cleared  # the fix the error names works on a full disk
    assert "rc=0" in again, again
