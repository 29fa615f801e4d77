"""Where runs live: `<home>/runs/<run_id>/{events.jsonl, state.json, output.json}`.

The home is `--home`, else $MAS_HOME, else `.mas` in the working directory. A run is named by
its id (or a unique prefix), by `--last`, or by the path of its events.jsonl.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from mas_cli.errors import UsageError

EVENTS = "events.jsonl"


def home_dir(explicit: Path | None = None) -> Path:
    """The mas home folder (not created here)."""
    if explicit is not None:
        return explicit
    return Path(os.environ.get("MAS_HOME") or ".mas")


def runs_dir(home: Path) -> Path:
    """The folder holding one folder per run."""
    return home / "runs"


def run_ids(home: Path) -> list[str]:
    """Every run id under this home, oldest first (ids sort by start time)."""
    folder = runs_dir(home)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / EVENTS).is_file())


def resolve_log(home: Path, ref: str | None, last: bool) -> Path:
    """The events.jsonl a user named: a path, a run id or prefix, or the latest run.

    Raises:
        UsageError: no run matches, several do, or the path names no regular file (a FIFO or
            a link to a device would be read for ever).
    """
    if ref and (Path(ref).is_file() or ref.endswith(".jsonl")):
        if Path(ref).exists() and not Path(ref).is_file():
            raise UsageError(f"{ref} is not a regular file", hint="name a run's events.jsonl")
        return Path(ref)
    if ref and (Path(ref) / EVENTS).is_file():  # a run's folder names the run
        return Path(ref) / EVENTS
    ids = run_ids(home)
    if ref and not last and not any(i.startswith(ref) for i in ids):
        _no_log_in_folder(home, ref)
    if not ids:
        raise UsageError(
            f"no runs under {runs_dir(home)}", hint="run a crew first: mas run CREW.yaml --offline"
        )
    if last or not ref:
        return runs_dir(home) / ids[-1] / EVENTS
    matches = [i for i in ids if i.startswith(ref)]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs"
        raise UsageError(
            f"{what} matching '{ref}' under {runs_dir(home)}", hint="see the ids with: mas runs"
        )
    return runs_dir(home) / matches[0] / EVENTS


def _no_log_in_folder(home: Path, ref: str) -> None:
    """Say what is wrong when `ref` names one run folder that holds no readable log.

    Raises:
        UsageError: one folder under runs/ starts with `ref` and its events.jsonl is missing, a
            folder, a broken link, or not a regular file (a FIFO, a device).
    """
    if not runs_dir(home).is_dir():
        return
    folders = [p for p in runs_dir(home).iterdir() if p.name.startswith(ref) and p.is_dir()]
    if len(folders) != 1:
        return
    log = folders[0] / EVENTS
    if log.is_dir():
        what = "is a folder"
    elif log.is_symlink() and not log.exists():
        what = "is a broken link"
    elif log.exists():
        what = "is not a regular file (a FIFO, a device, or a link to one), so it is never read"
    else:
        what = "is missing"
    raise UsageError(
        f"run {folders[0].name}: its log {log} {what}",
        hint="a run's folder needs the events.jsonl mas run wrote; mas runs lists the runs that "
        "have one",
    )


_ID_TIME = re.compile(r"^(\d{8}T\d{6})")


def run_time(run_id: str) -> datetime | None:
    """When a run started, read from its id (`20261121T115459278-e4e350`), UTC."""
    match = _ID_TIME.match(run_id)
    if not match:
        return None
    return stamp_time(match[1])


def stamp_time(stamp: str) -> datetime:
    """`20261121T115459` as a UTC time; what strptime's `%Y%m%dT%H%M%S` reads from these 15
    characters, without loading `_strptime` (its locale tables, a twentieth of `mas runs`).

    Raises:
        ValueError: not a time (a 13th month, a 30th of February).
    """
    digits = stamp[:8] + stamp[9:]
    if len(stamp) != 15 or stamp[8] not in "Tt" or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"time data {stamp!r} does not match format '%Y%m%dT%H%M%S'")
    year, month, day = int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8])
    hour, minute, second = int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15])
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
