"""`mas cache`: entries and hit rates per tool, what was cleared, why a call missed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mas_cli.cli.render.fit import print_line, print_table
from mas_cli.cli.render.grid import Grid
from mas_cli.cli.render.plain import eprint, escape, json_out
from mas_cli.records import asdict
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.events.tool_use import ToolUseReport
    from mas_cli.tools.cache import CacheEntry
    from mas_cli.tools.cache_admin import CacheStats
    from mas_cli.tools.cache_explain import Explanation


def cache_stats(stats: CacheStats, use: ToolUseReport, *, as_json: bool) -> None:
    """One row per tool that can be cached (entries in the cache, or lookups in the logs: live,
    side_effect tools and delegations never ask the cache); then the totals."""
    rows = _stat_rows(stats, use)
    if as_json:
        json_out(
            {
                "directory": stats.directory,
                "disk_bytes": stats.disk_bytes,
                "size_limit": stats.size_limit,
                "runs_read": use.runs,
                "unreadable_runs": use.unreadable_runs,
                "tools": rows,
            }
        )
        return
    if rows:
        print_table(_stats_table(rows))
    else:  # a header over nothing reads as a broken table
        print_line("no tool has asked the cache yet: deterministic tools fill it as runs call them")
    entries = sum(r["entries"] for r in rows)
    print_line(
        f"{plural(entries, 'entry', 'entries')} · {_size(stats.disk_bytes)} on disk of "
        f"{_size(stats.size_limit)} · {escape(stats.directory)} · hit rates from "
        f"{plural(use.runs, 'run log')}"
    )
    if use.unreadable_runs:
        eprint(f"[yellow]warning:[/] {plural(use.unreadable_runs, 'run log')} could not be read")


def _stats_table(rows: list[dict[str, Any]]) -> Grid:
    table = Grid()
    for column in ("tool", "entries", "size", "calls", "lookups", "hits", "hit rate", "saved"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for row in rows:
        rate = "" if row["hit_rate"] is None else f"{row['hit_rate']:.0%}"
        counts = [str(row[k]) for k in ("calls", "lookups", "hits")]
        saved = f"{row['saved_s']:.2f} s"
        table.add_row(
            escape(row["tool"]), str(row["entries"]), _size(row["bytes"]), *counts, rate, saved
        )
    return table


def _stat_rows(stats: CacheStats, use: ToolUseReport) -> list[dict[str, Any]]:
    held = {t.tool: t for t in stats.tools}
    cacheable = {name for name, u in use.tools.items() if u.lookups}  # only these ask the cache
    rows = []
    for name in sorted(set(held) | cacheable):
        entries = held.get(name)
        calls = use.tools.get(name)
        rows.append(
            {
                "tool": name,
                "entries": entries.entries if entries else 0,
                "bytes": entries.bytes if entries else 0,
                "calls": calls.calls if calls else 0,
                "lookups": calls.lookups if calls else 0,
                "hits": calls.hits if calls else 0,
                "hit_rate": calls.hit_rate if calls else None,
                "saved_s": round(calls.saved_s, 6) if calls else 0.0,
            }
        )
    return rows


def cleared(removed: int | None, tool: str | None, directory: str) -> None:
    """What `mas cache clear` removed (None: an unreadable cache was reset)."""
    if removed is None:
        print_line(f"reset the tool cache {escape(directory)}: it could not be read")
        return
    whose = f" of tool {escape(tool)}" if tool else ""
    print_line(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}{whose}")


def explanation(found: Explanation, *, as_json: bool) -> None:
    """The key's inputs, then a hit, or the nearest entry and what differs."""
    for problem in found.problems:
        eprint(f"[red]error:[/] {escape(found.inputs.tool)}: {escape(problem)}")
    if found.problems:
        eprint("such a call fails, and failures are never cached")
    if as_json:
        json_out(_explanation_json(found))
        return
    inputs = found.inputs
    print_line(f"[bold]key[/] {inputs.digest}")
    for label, value in _input_rows(found):
        print_line(f"  {label:<17} {escape(value)}")
    print_line(_verdict(found))
    if found.nearest is not None:
        _nearest(found, found.nearest)


def _input_rows(found: Explanation) -> list[tuple[str, str]]:
    inputs = found.inputs
    return [
        ("tool", f"{inputs.tool} ({found.kind})"),
        ("code fingerprint", inputs.fingerprint[:16]),
        ("version", repr(inputs.version) if inputs.version else "(none)"),
        ("max_output_bytes", str(inputs.max_output_bytes)),
        ("arguments", inputs.arguments),
    ]


def _verdict(found: Explanation) -> str:
    if not found.cacheable:
        return f"[yellow]not cached:[/] {escape(found.inputs.tool)} is a {found.kind} tool"
    entry = found.entry
    if entry is not None:
        return (
            f"[green]hit:[/] stored {_when(entry.stored_at)}, the original call took "
            f"{entry.latency_s * 1000:.1f} ms, {_expiry(entry)}"
        )
    held = f"{found.tool_entries} entr{'y' if found.tool_entries == 1 else 'ies'}"
    return f"[yellow]miss:[/] no entry for this key ({escape(found.inputs.tool)} has {held})"


def _nearest(found: Explanation, entry: CacheEntry) -> None:
    print_line(f"nearest entry: stored {_when(entry.stored_at)}, key {entry.inputs.digest[:16]}")
    for number, diff in enumerate(found.differences):
        why = "  [bold]← why this call misses[/]" if number == 0 else ""
        print_line(
            f"  {escape(diff.input)}: {escape(diff.call)} here, {escape(diff.entry)} there{why}"
        )


def _explanation_json(found: Explanation) -> dict[str, Any]:
    entry = found.entry or found.nearest
    return {
        "key": found.inputs.digest,
        "inputs": found.inputs.to_dict(),
        "kind": found.kind,
        "cacheable": found.cacheable,
        "problems": list(found.problems),
        "hit": found.entry is not None,
        "tool_entries": found.tool_entries,
        "entry" if found.entry else "nearest": _entry_json(entry) if entry else None,
        "differences": [asdict(d) for d in found.differences],
    }


def _entry_json(entry: CacheEntry) -> dict[str, Any]:
    return {
        "key": entry.inputs.digest,
        "inputs": entry.inputs.to_dict(),
        "stored_at": _when(entry.stored_at),
        "expires_at": _when(entry.expires_at) if entry.expires_at else None,
        "latency_s": entry.latency_s,
        "output_bytes": len(entry.output.encode()),
    }


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _expiry(entry: CacheEntry) -> str:
    return f"expires {_when(entry.expires_at)}" if entry.expires_at else "never expires"


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
