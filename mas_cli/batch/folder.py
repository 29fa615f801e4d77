"""Where a batch lives: `<home>/batches/<batch_id>/` with batch.json, results.jsonl, dead.jsonl.

batch.json says what the batch is (crew, items file, options) and how it stands (started,
finished, status, counts); it is rewritten whole (write, then rename) at the start, at the end,
and never half-written. results.jsonl gets one line per finished item (`key`, `run_id`,
`status`, `output`, `cost_usd`, `error`), appended and flushed as the item ends; after a resume
an item may have several lines, and the last one counts. dead.jsonl gets the items that failed
or could not be read (`key`, `reason`, `inputs`). Each item's run is an ordinary run under
`<home>/runs/`. A killed batch leaves every file whole or ending at a whole line.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mas_cli.errors import UsageError
from mas_cli.events.diskio import LineFile, writable_folder, write_failure
from mas_cli.events.jsonsafe import dumps
from mas_cli.events.liveness import lock_holder
from mas_cli.events.text import loads

BatchStatus = Literal["running", "finished", "stopped", "interrupted"]
INFO, RESULTS, DEAD = "batch.json", "results.jsonl", "dead.jsonl"
LOCK = "batch.lock"
"""Held by the process that runs the batch (see events.liveness), its pid written in it."""


def batches_dir(home: Path) -> Path:
    """The folder holding one folder per batch."""
    return home / "batches"


def new_batch_id() -> str:
    """Sortable by start time, like run ids, and told apart from them by its `b-` prefix."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"b-{stamp}-{secrets.token_hex(3)}"


def now_iso() -> str:
    """The time now, as batch.json records it."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class BatchFolder:
    """One batch's folder, with its two line files open for appending."""

    def __init__(self, path: Path) -> None:
        """Open (create) the folder and its files.

        Raises:
            UsageError: the folder cannot be written.
        """
        self.path = path
        self.batch_id = path.name
        writable_folder(path, "cannot write the batch in")
        try:
            self.results = LineFile(path / RESULTS)
            self.dead = LineFile(path / DEAD)
        except OSError as exc:
            raise UsageError(write_failure(path, exc)) from None

    def write_info(self, info: dict[str, Any]) -> str | None:
        """Write batch.json whole (write, then rename); the problem, if it failed."""
        partial = self.path / (INFO + ".partial")
        try:
            partial.write_text(dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            partial.replace(self.path / INFO)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            return write_failure(self.path / INFO, exc)
        return None

    def result(self, record: dict[str, Any]) -> None:
        """Append one finished item to results.jsonl."""
        self.results.append(dumps(record, ensure_ascii=False, default=str) + "\n")

    def dead_letter(self, key: str, reason: str, inputs: Any) -> None:
        """Append one failed or unreadable item to dead.jsonl, ready to be fed back."""
        record = {"key": key, "reason": reason, "inputs": inputs}
        self.dead.append(dumps(record, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        """Close the line files."""
        self.results.close()
        self.dead.close()

    def __enter__(self) -> BatchFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_info(folder: Path) -> dict[str, Any]:
    """batch.json of a batch folder.

    Raises:
        UsageError: it is missing or is not a JSON object.
    """
    try:
        info = loads((folder / INFO).read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{folder / INFO}: cannot be read ({getattr(exc, 'strerror', None) or exc})",
            hint="a batch folder holds the batch.json that `mas batch` wrote",
        ) from None
    if not isinstance(info, dict):
        raise UsageError(f"{folder / INFO}: expected a JSON object")
    return info


def read_results(folder: Path) -> Iterator[dict[str, Any]]:
    """results.jsonl, one record at a time; lines that are not whole records are skipped."""
    path = folder / RESULTS
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for raw in handle:
            try:
                record = loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("key"), str):
                yield record


def latest_results(folder: Path) -> dict[str, dict[str, Any]]:
    """Each item's last result (a resumed item may have several lines), by key."""
    return {record["key"]: record for record in read_results(folder)}


def batch_ids(home: Path) -> list[str]:
    """Every batch id under this home, oldest first."""
    folder = batches_dir(home)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / INFO).is_file())


def resolve_batch(home: Path, ref: str | None, *, last: bool = False) -> Path:
    """The folder of the batch a user named: its path, its id or a unique prefix, or the last.

    Raises:
        UsageError: no batch, or more than one, matches.
    """
    if ref and (Path(ref) / INFO).is_file():
        return Path(ref)
    ids = batch_ids(home)
    if not ids:
        raise UsageError(
            f"no batches under {batches_dir(home)}",
            hint="run one first: mas batch CREW.yaml --inputs ITEMS.jsonl",
        )
    if last or not ref:
        return batches_dir(home) / ids[-1]
    matches = [i for i in ids if i.startswith(ref) or i.startswith(f"b-{ref}")]
    if len(matches) != 1:
        what = "no batch" if not matches else f"{len(matches)} batches"
        raise UsageError(
            f"{what} matching '{ref}' under {batches_dir(home)}",
            hint="see the batch ids with: mas runs --batches",
        )
    return batches_dir(home) / matches[0]


def is_batch(home: Path, ref: str) -> bool:
    """Whether `ref` names a batch (a batch folder, or an id or prefix of one) and not a run."""
    if (Path(ref) / INFO).is_file():
        return True
    return ref.startswith("b-") and any(i.startswith(ref) for i in batch_ids(home))


def file_lines(path: Path) -> int:
    """How many lines a file has, counted in blocks (for the progress bar's total)."""
    count = 0
    with contextlib.suppress(OSError), path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


def live_status(info: dict[str, Any], folder: Path | None = None) -> str:
    """The status batch.json gives, except that a `running` batch whose process is gone (a
    SIGKILL, a crash of the machine) is `killed`. The batch's lock in `folder` tells, when it
    has one (its pid may belong to another process since); else its pid."""
    status = str(info.get("status"))
    if status != "running":
        return status
    if folder is not None and (folder / LOCK).is_file():
        return status if lock_holder(folder / LOCK) is not None else "killed"
    pid = info.get("pid")
    return "killed" if isinstance(pid, int) and not _alive(pid) else status


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
