"""An item's runs as they travel: the new lines of their logs since the last checkpoint, their
whole folders when the item ends, and both written back into a home."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mas_cli.events.store import EVENTS, runs_dir
from mas_cli.fleet.messages import Chunk, RunFiles, pack, unpack

LOGS = (EVENTS, "llm.jsonl")  # what a resume reads: the files a run appends as it goes
FILES = (*LOGS, "output.json", "state.json")  # a finished run's folder (not its lock)


@dataclass
class Tail:
    """Where each log of an item's runs was read up to: the next checkpoint sends the rest."""

    home: Path
    runs: list[str] = field(default_factory=list)
    """Every run of the item, oldest first: restored from a lost worker's checkpoints, then
    the ones run here."""
    offsets: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, run_id: str) -> None:
        """A run of this item (a run heard of again is ignored)."""
        if run_id and run_id not in self.runs:
            self.runs.append(run_id)

    def chunks(self) -> list[Chunk]:
        """The whole lines written since the last call, per run and log file."""
        found = []
        for run_id in self.runs:
            for name in LOGS:
                at = self.offsets.get((run_id, name), 0)
                data = self._new(run_id, name)
                if data:
                    found.append(Chunk(run_id, name, at, pack(data)))
        return found

    def _new(self, run_id: str, name: str) -> bytes:
        at = self.offsets.get((run_id, name), 0)
        try:
            with (runs_dir(self.home) / run_id / name).open("rb") as handle:
                handle.seek(at)
                data = handle.read()
        except OSError:
            return b""
        whole = data[: data.rfind(b"\n") + 1]  # a line being written waits for the next time
        self.offsets[(run_id, name)] = at + len(whole)
        return whole

    def restore(self, chunks: list[Chunk]) -> str | None:
        """Write what a lost worker's checkpoints saved into this home; its last run's id."""
        for chunk in sorted(chunks, key=lambda c: (c.run_id, c.name, c.at)):
            folder = runs_dir(self.home) / Path(chunk.run_id).name
            folder.mkdir(parents=True, exist_ok=True)
            key = (chunk.run_id, chunk.name)
            if chunk.at != self.offsets.get(key, 0):
                continue  # a gap: what came after it cannot be trusted
            data = unpack(chunk.data)
            with (folder / Path(chunk.name).name).open("ab" if chunk.at else "wb") as handle:
                handle.write(data)
            self.offsets[key] = chunk.at + len(data)
        for chunk in chunks:  # in the order they were saved: the chain's order
            self.add(chunk.run_id)
        return self.runs[-1] if self.runs else None

    def folders(self, *, remove: bool) -> list[RunFiles]:
        """Every run's folder, packed (and removed from this home when `remove`)."""
        packed = []
        for run_id in self.runs:
            folder = runs_dir(self.home) / run_id
            files = {n: pack((folder / n).read_bytes()) for n in FILES if (folder / n).is_file()}
            packed.append(RunFiles(run_id, files))
            if remove:
                shutil.rmtree(folder, ignore_errors=True)
        return packed


def write_runs(home: Path, runs: list[RunFiles]) -> None:
    """Write an item's runs into `home`, where `mas runs`, cost-report and triage read them."""
    for run in runs:
        folder = runs_dir(home) / Path(run.run_id).name
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in run.files.items():
            if name in FILES:
                (folder / name).write_bytes(unpack(data))
