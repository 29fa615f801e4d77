"""Where one core's time goes when `mas triage loops` reads our own log: a breakdown by stage.

Run: `python bench/profile_triage.py [--mb 128] [LOG]`. Reads the first MB of the log (default:
the 1 GB log `bench_triage.py` generates) in this process, one stage at a time, the way one
worker does, and prints each stage's share of the CPU time: reading blocks, msgspec decoding,
the pass over decoded lines (`bulk.Bulk`), and inside it the tally replaying the runs that may
loop, and the detectors.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mas_cli.events.formats.mas import decode_block
from mas_cli.events.formats.records import make_loc
from mas_cli.triage.blocks import blocks as read_blocks
from mas_cli.triage.bulk import Bulk
from mas_cli.triage.scan import Partial
from mas_cli.triage.thresholds import Thresholds

DEFAULT_LOG = Path(__file__).resolve().parent / ".cache" / "events-1024mb-7-v4.jsonl"


def _timed(
    spent: dict[str, float], stage: str, call: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    start = time.process_time()
    try:
        return call(*args, **kwargs)
    finally:
        spent[stage] += time.process_time() - start


def profile(log: Path, size: int) -> dict[str, float]:
    """CPU seconds per stage for the first `size` bytes of `log` (`replay` is within `pass`)."""
    spent = dict.fromkeys(("read", "decode", "pass", "replay", "detectors"), 0.0)
    th, part, bulk = Thresholds(), Partial(), Bulk(Thresholds())
    replay = bulk.tally.observe_all
    bulk.tally.observe_all = lambda *a: _timed(spent, "replay", replay, *a)  # type: ignore[method-assign]
    blocks, line = read_blocks(str(log), 0, min(size, log.stat().st_size)), 1
    while (got := _timed(spent, "read", next, blocks, 0)) != 0:
        if got is None:  # a line past the bound
            line += 1
            continue
        array, block = got
        lines = _timed(spent, "decode", decode_block, array, block, str(log), line, part.bad)
        _timed(spent, "pass", bulk.observe_all, make_loc(0, line), lines)
        line += len(lines)
        _timed(spent, "detectors", part.drain, bulk.tally, th, rows=False)
    _timed(spent, "pass", bulk.finish)
    bulk.tally.finish()
    _timed(spent, "detectors", part.drain, bulk.tally, th, rows=False)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", type=Path, default=DEFAULT_LOG)
    parser.add_argument("--mb", type=int, default=128, help="how much of the log to read")
    args = parser.parse_args()
    if not args.log.exists():
        parser.error(f"{args.log} does not exist: run bench/bench_triage.py first to make it")
    spent = profile(args.log, args.mb << 20)
    total = sum(spent.values()) - spent["replay"]
    print(f"{args.log.name}, first {args.mb} MB: {total:.2f} CPU s, {args.mb / total:.0f} MB/s")
    for stage, seconds in spent.items():
        inside = " (inside pass)" if stage == "replay" else ""
        print(f"  {stage:<10} {seconds:6.2f} s  {seconds / total:4.0%}{inside}")


if __name__ == "__main__":
    main()
