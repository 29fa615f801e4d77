"""`mas run`: run a crew, show progress on stderr, outputs on stdout, exit by how it ended."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mas_cli.cli.exits import EXIT_BY_STATUS
from mas_cli.errors import UsageError
from mas_cli.events.diskio import read_capped
from mas_cli.events.text import fix_text, fix_value, loads

if TYPE_CHECKING:
    from mas_cli.engine.run import RunOptions
    from mas_cli.export.live import LiveExport
    from mas_cli.spec.loader import Crew


def run(
    *,
    crew: Path,
    input_pairs: list[str] | None,
    inputs_file: Path | None,
    limit: list[str] | None,
    offline: bool,
    replay: str | None,
    home: Path | None,
    json_out: bool,
    quiet: bool,
    estimate: bool,
    otel: bool,
    otel_endpoint: str | None,
) -> int:
    """Load the crew, run it (or estimate it) and print the outcome; the exit code."""
    import asyncio

    from mas_cli.cli.render.run import Progress, ToolErrors, run_result
    from mas_cli.engine.run import RunOptions, run_crew
    from mas_cli.events.store import home_dir
    from mas_cli.spec.loader import load_crew

    if replay and (offline or estimate):
        other = "--offline" if offline else "--estimate"
        raise UsageError(f"--replay and {other} cannot be combined", hint="give one of them")
    loaded = load_crew(crew)
    if limit:
        from mas_cli.spec.overrides import with_limits

        loaded = with_limits(loaded, tuple(limit))
    for warning in loaded.warnings:
        if warning.code != "default-limits":  # validate says it; a run need not repeat it
            from mas_cli.cli import render  # rich: loaded only when there is more to say

            render.problem(warning, "warning")
    tool_errors = ToolErrors()
    listeners = (tool_errors,) if quiet else (tool_errors, Progress())
    live = None if estimate else live_export(otel, otel_endpoint)
    listeners = (*listeners, live) if live else listeners
    options = RunOptions(
        home_dir(home),
        parse_inputs(input_pairs or [], inputs_file),
        offline,
        listeners,
        replay=replay,
    )
    if estimate:
        return _estimate(loaded, options, as_json=json_out)
    try:
        result = asyncio.run(run_crew(loaded, options))
    finally:
        close_live(live)
    run_result(result, loaded.spec, as_json=json_out, tool_errors=tool_errors.count)
    return EXIT_BY_STATUS[result.status]


def live_export(asked: bool, given: str | None) -> LiveExport | None:
    """The live OpenTelemetry export, when asked for or when the environment names a collector."""
    from mas_cli.events.otel import DEFAULT_ENDPOINT, ENDPOINT_VARS, endpoint_from_env

    source, endpoint = ("--otel-endpoint", given) if given else endpoint_from_env() or ("", "")
    if not asked and not endpoint:
        return None
    from mas_cli.export.live import LiveExport  # the exporter loads only when spans are sent

    as_is = source == ENDPOINT_VARS[0]  # the traces-only variable is the traces URL itself
    return LiveExport(endpoint or DEFAULT_ENDPOINT, source=source or "--otel", as_is=as_is)


def close_live(live: LiveExport | None) -> None:
    """Send what is left of a live export; a failure is a warning (the run's end stands)."""
    failure = live.close() if live else None
    if failure:  # the collector's words are in it: text, never markup
        from mas_cli.cli.render.plain import eprint, escape

        eprint(f"[yellow]warning:[/] {escape(failure)}")


def _estimate(crew: Crew, options: RunOptions, *, as_json: bool) -> int:
    """Run offline in a scratch home, print the priced usage and the worst case; the exit code."""
    import asyncio

    from mas_cli.cli import render
    from mas_cli.cli.render import cost as draw
    from mas_cli.cost.budget import worst_case_bound
    from mas_cli.engine.estimate import estimate_crew, not_run, not_started

    result, report = asyncio.run(estimate_crew(crew, options))
    bound, skipped = worst_case_bound(crew.spec), not_run(crew.spec.tools)
    unstarted = not_started(crew)
    if as_json:
        render.json_out(
            {
                "estimate": report.to_json(),
                "worst_case": bound.to_json(),
                "tools_not_run": skipped,
                "servers_not_started": unstarted,
            }
        )
    else:
        draw.estimate(report, bound)
        if skipped:
            shown = ", ".join(f"{name} ({kind})" for name, kind in skipped.items())
            render.stdout.print(f"! tools not run in a dry run (placeholder answers): {shown}")
        if unstarted:
            render.stdout.print(
                f"! MCP servers not started in a dry run: {', '.join(unstarted)} (tools answer"
                " with placeholders; one the crew file does not name is not offered)"
            )
    if result.status != "ok":
        render.stderr.print(f"the dry run ended {result.status}: {result.reason}")
    return EXIT_BY_STATUS[result.status]


def parse_inputs(pairs: list[str], inputs_file: Path | None) -> dict[str, Any]:
    """--inputs FILE.json first, then each --input key=value over it."""
    values: dict[str, Any] = _inputs_file(inputs_file) if inputs_file else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--input {pair!r} is not key=value", hint='e.g. --input topic="retry storms"'
            )
        if fix_text(pair) != pair:  # bytes that were not UTF-8, kept as lone surrogates
            raise UsageError(
                f"--input {fix_text(pair)[:80]!r} is not valid UTF-8",
                hint="set the terminal to UTF-8, or pass the values in --inputs FILE.json",
            )
        if len(value.encode("utf-8", "surrogateescape")) > MAX_INPUTS_BYTES:
            raise UsageError(
                f"--input {key.strip()}: larger than {MAX_INPUTS_BYTES:,} bytes",
                hint="inputs become prompt text; pass less, or give a tool the file to read",
            )
        values[key.strip()] = value
    return values


MAX_INPUTS_BYTES = 8 << 20  # README "Inputs": a larger file is refused before it is read


def _inputs_file(path: Path) -> dict[str, Any]:
    if path.suffix.lower() in (".jsonl", ".csv", ".ndjson"):
        raise UsageError(
            f"{path}: --inputs of mas run is one JSON object of inputs (a .json file)",
            hint=f"to run the crew once per line, run a batch: mas batch CREW.yaml --inputs {path}",
        )
    hint = "inputs become prompt text; pass less, or give a tool the file to read"
    raw = read_capped(path, MAX_INPUTS_BYTES, "--inputs", hint)
    try:
        data = loads(raw)
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object of input values")
    return dict(fix_value(data))
