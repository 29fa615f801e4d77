"""`mas tool-test`: each run, the latency figures, the output, and the verdict."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.markup import escape

from mas_cli.cli.render.base import json_out, stderr, stdout, styled
from mas_cli.cli.render.fit import print_table
from mas_cli.cli.render.grid import Grid
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.tools.testresult import Latency, ToolTest

MAX_LINES = 40
MAX_CHARS = 4000
VERDICT_STYLE = {"ok": "green", "skipped": "dim"}
VERDICT_TEXT = {
    "ok": "ok",
    "skipped": "skipped",
    "bad_arguments": "bad arguments",
    "failed": "failed",
    "timeout": "timed out",
    "not_deterministic": "not deterministic",
}


def tool_tests(tests: list[ToolTest], *, full: bool, as_json: bool, single: bool) -> None:
    """One tool's full report, or (--all) a summary table and the details of what failed."""
    from mas_cli.tools.testresult import to_json

    for test in tests:
        for warning in test.warnings:
            stderr.print(f"[yellow]warning:[/] {escape(warning)}")
    if single and tests[0].problems:
        _bad_arguments(tests[0])
    if as_json:
        json_out([to_json(t) for t in tests] if not single else to_json(tests[0]))
    elif single:
        if not tests[0].problems:
            _report(tests[0], full)
    else:
        _summary(tests)
        for test in tests:
            if test.verdict not in ("ok", "skipped"):
                _report(test, full)
    if not single and not any(t.ran for t in tests):
        stderr.print(f"[red]error:[/] {_NOTHING_RAN}")


def _bad_arguments(test: ToolTest) -> None:
    for problem in test.problems:
        stderr.print(f"[red]error:[/] {escape(test.tool)}: {escape(problem)}")
    stderr.print(
        f"the tool was not run; its parameters are {escape(test.signature)} "
        "(give them as --arg key=value, or --args JSON)"
    )


def _report(test: ToolTest, full: bool) -> None:
    stdout.print(_heading(test))
    for problem in test.problems:
        stdout.print(f"  [red]{escape(problem)}[/]")
    if test.error:
        stdout.print(f"  [red]{escape(test.error)}[/]")
    if test.attempts:
        print_table(_runs_table(test))
        _figures(test)
        _output(test, full)
    stdout.print(_verdict_line(test))


def _heading(test: ToolTest) -> str:
    example = f" example {test.example + 1}" if test.example is not None else ""
    arguments = escape(json.dumps(test.arguments, ensure_ascii=False))
    key = f" · key {test.cache_key[:16]}" if test.cache_key else ""
    return f"[bold]{escape(test.tool)}[/]{example} [dim]({test.kind})[/] {arguments}{key}"


def _runs_table(test: ToolTest) -> Grid:
    table = Grid()
    for column in ("run", "status", "cache", "latency", "saved"):
        table.add_column(column, justify="right" if column in ("latency", "saved") else "left")
    for number, attempt in enumerate(test.attempts, start=1):
        result = attempt.result
        status = "ok" if result.ok else "timeout" if result.timed_out else "error"
        saved = _ms(attempt.saved_s) if attempt.saved_s is not None else ""
        cache = "" if attempt.cache == "off" else attempt.cache
        style = "" if result.ok else "red"
        table.add_row(str(number), styled(status, style), cache, _ms(result.latency_s), saved)
    return table


def _figures(test: ToolTest) -> None:
    latency = test.latency
    if latency is not None and len(test.attempts) > 1:
        stdout.print(f"latency {_latency(latency)}")
    identical = test.identical
    if identical is None:
        return
    hits = sum(a.cache == "hit" for a in test.attempts)
    served = f" ({hits} from the cache; --no-cache runs the tool every time)" if hits else ""
    if identical:
        stdout.print(f"identical output across {len(test.attempts)} runs{served}")
    else:
        expected = "" if test.kind == "deterministic" else f" (expected of a {test.kind} tool)"
        stdout.print(f"[yellow]outputs differ between runs{expected}[/]{served}")
        stdout.print(escape(test.diff or ""), highlight=False)


def _output(test: ToolTest, full: bool) -> None:
    from mas_cli.tools.testresult import pretty

    first = test.attempts[0].result
    failed = next((a.result for a in test.attempts if not a.result.ok), None)
    if failed is not None:
        longer = " (give it longer: --timeout S, or timeout_s in the crew file)"
        stdout.print(
            f"[red]error:[/] {escape(failed.error or failed.output)}"
            + (longer if failed.timed_out else "")
        )
        if failed.traceback:
            stdout.print(escape(failed.traceback.rstrip()), highlight=False)
    if first.ok:
        stdout.print("[dim]output:[/]")
        stdout.print(escape(shorten(pretty(first.output), full)), highlight=False)


def shorten(text: str, full: bool) -> str:
    """At most MAX_LINES lines and MAX_CHARS characters, saying what was left out."""
    if full:
        return text
    lines = text.splitlines()
    kept = "\n".join(lines[:MAX_LINES])[:MAX_CHARS]
    if kept == text.rstrip("\r\n"):  # only the last line's end left out: nothing was cut
        return text
    left = len(text) - len(kept)
    return f"{kept}\n… {plural(left, 'more character')} (--full shows all)"


def _verdict_line(test: ToolTest) -> str:
    verdict = test.verdict
    mark = "✓" if verdict in ("ok", "skipped") else "✗"
    return styled(escape(f"{mark} {_verdict_text(test)}"), VERDICT_STYLE.get(verdict, "red"))


def _verdict_text(test: ToolTest) -> str:
    text = VERDICT_TEXT[test.verdict]
    if test.cached and test.verdict == "ok":
        return "ok (cached, not run)"
    return f"{text}: {test.skipped}" if test.skipped else text


def _summary(tests: list[ToolTest]) -> None:
    table = Grid()
    for column in ("tool", "example", "verdict", "runs", "median", "cache"):
        table.add_column(column, justify="right" if column in ("runs", "median") else "left")
    for test in tests:
        latency = test.latency
        verdict = test.verdict
        table.add_row(
            escape(test.tool),
            "" if test.example is None else str(test.example + 1),
            styled(_verdict_text(test), VERDICT_STYLE.get(verdict, "red")),
            str(len(test.attempts)),
            _ms(latency.median) if latency else "",
            " ".join(a.cache for a in test.attempts if a.cache != "off"),
        )
    print_table(table)
    failed = sum(t.verdict not in ("ok", "skipped") for t in tests)
    counts = _what_ran(tests)
    if failed:
        stdout.print(styled(f"{failed} of {len(tests)} failed", "red") + f" · {counts}")
    elif not any(t.ran for t in tests):
        stdout.print(styled(f"nothing ran: {counts}", "red"))
    else:
        stdout.print(f"all passed · {counts}")


_NOTHING_RAN = (
    "no tool ran, so nothing was tested (give each tool examples: in the crew file, and "
    "--no-cache to run tools the cache answers)"
)


def _what_ran(tests: list[ToolTest]) -> str:
    """`2 ran · 1 answered from the cache (--no-cache runs it) · 1 skipped (no examples ...)`."""
    ran, cached = sum(t.ran for t in tests), sum(t.cached for t in tests)
    parts = [f"{ran} ran"]
    if cached:
        parts.append(f"{cached} answered from the cache, not run (--no-cache runs them)")
    skipped = [t for t in tests if t.skipped]
    reasons = sorted({t.skipped or "" for t in skipped})
    if skipped:
        parts.append(f"{len(skipped)} skipped ({'; '.join(reasons)})")
    if not tests:
        parts.append("the crew declares no tools")
    return " · ".join(parts)


def _latency(latency: Latency) -> str:
    return (
        f"min {_ms(latency.min)} · median {_ms(latency.median)} · "
        f"p95 {_ms(latency.p95)} · max {_ms(latency.max)}"
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
