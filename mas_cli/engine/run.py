"""Run a crew: set up the run, schedule its tasks, and always leave a complete log behind.

Whatever happens (success, a limit, Ctrl-C, SIGTERM, a bug), the log ends with `run_finished`
and the run folder holds output.json and state.json. A full disk stops the run (status failed,
the reason naming the file): every file is then whole or ends at a whole line, and whatever
still fits (run_finished, output.json, state.json) is written.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

from mas_cli import __version__
from mas_cli.cost.prices import unpriced
from mas_cli.cost.tokens import prepare as prepare_tokenizer
from mas_cli.engine.context import Listener, RunContext, Sink
from mas_cli.engine.guards import Guard
from mas_cli.engine.inputs import resolve_inputs
from mas_cli.engine.listeners import let_warn, settle
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.providers import (
    ReplaySource,
    build_models,
    close,
    exact_counts_needed,
    open_providers,
    recorded,
    replay_source,
)
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.engine.replayer import seed
from mas_cli.engine.scheduler import run_tasks
from mas_cli.engine.shared import Shared
from mas_cli.engine.state import SharedState
from mas_cli.engine.stops import install_stops, stops_given_back
from mas_cli.errors import UsageError
from mas_cli.events.diskio import (
    LineFile,
    Reserve,
    check_writable,
    writable_folder,
    write_failure,
)
from mas_cli.events.jsonsafe import dumps
from mas_cli.events.liveness import holding
from mas_cli.events.models import RunFinished, RunStarted, RunStatus, Warning_
from mas_cli.events.spend import Spend, as_float
from mas_cli.events.store import EVENTS, runs_dir
from mas_cli.events.writer import EventWriter, new_run_id, new_span_id, new_trace_id
from mas_cli.llm.keys import crew_secrets, endpoint
from mas_cli.llm.recording import LLM_LOG, LlmLog
from mas_cli.records import replace
from mas_cli.redact import Secrets
from mas_cli.spec.loader import Crew
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.models import MANAGER_TASK
from mas_cli.tools import load_tools, served_tools
from mas_cli.tools.base import Tool
from mas_cli.tools.cache import ToolCache, cache_dir

if TYPE_CHECKING:  # a run that resumes nothing reads no earlier run: origin loads for a resume
    from mas_cli.engine.origin import Origin

RESERVE = ".reserve"  # the run's room on the disk for its last words, deleted at its end


class RunOptions(Struct, frozen=True):
    """How to run: where, with which inputs, offline or replayed or live, who listens."""

    home: Path
    inputs: dict[str, Any] = field(default_factory=dict)
    offline: bool = False
    listeners: tuple[Listener, ...] = ()
    replay: str | None = None  # the run (id, prefix or path) whose llm.jsonl serves every call
    wrap_tools: Callable[[dict[str, Tool]], dict[str, Tool]] | None = None
    """Replaces the crew's tools before the run (`--estimate` puts its dry-run tools here, so
    that engine/estimate imports this module and this module never imports it)."""
    resume: Origin | None = None  # `mas resume`: the run this one continues
    shared: Shared = field(default_factory=Shared)  # parts shared with other runs (a batch)


async def run_crew(crew: Crew, options: RunOptions) -> RunResult:
    """Run the crew to completion or to a clear stop.

    Raises:
        UsageError: missing or unknown inputs, a provider without its key, a run to replay
            that cannot be found, a home that cannot be written (all before anything runs).
        ToolError: a tool that cannot be loaded.
    """
    inputs = resolve_inputs(crew.spec, options.inputs)
    source = replay_source(options.home, options.replay, crew.spec.name) if options.replay else None
    if source:  # a replay uses the models as the recorded run did
        options = replace(options, replay=source.run_id, offline=source.offline)
    models = build_models(crew.spec, offline=options.offline)
    gated = options.shared.gate is not None
    for model in exact_counts_needed(crew.spec, models, gated=gated):  # built while it sets up
        prepare_tokenizer(model.model)
    tools = options.shared.tools or load_tools(crew)
    check_writable(runs_dir(options.home), "cannot write runs in")  # before any client opens
    with stops_given_back():  # the run's end quiets Ctrl-C, SIGTERM and SIGHUP until here
        async with served_tools(crew, options.shared.mcp) as served:  # each server started once
            tools = {**tools, **served}  # never into a batch's shared table
            if options.wrap_tools is not None:
                tools = options.wrap_tools(tools)
            return await _open_and_run(crew, options, (models, tools, inputs), source)


async def _open_and_run(
    crew: Crew,
    options: RunOptions,
    parts: tuple[dict[str, ModelSpec], dict[str, Tool], dict[str, Any]],
    source: ReplaySource | None,
) -> RunResult:
    models, tools, inputs = parts
    providers = options.shared.providers or open_providers(crew, models, source)
    secrets = options.shared.secrets or crew_secrets(crew.spec)
    try:
        run_dir = _new_run_dir(runs_dir(options.home))
        writer, llm_log = _open_logs(run_dir, secrets)
    except UsageError:
        if options.shared.providers is None:
            await close(providers)
        raise
    # `mas runs` tells this live run from a killed one by the lock `holding` keeps.
    shared = options.shared
    own_cache = ToolCache(cache_dir(options.home)) if shared.cache is None else None
    opened = contextlib.nullcontext() if own_cache is None else own_cache  # closed at the end
    with writer, llm_log, holding(run_dir), opened:
        cache = shared.cache if own_cache is None else own_cache
        totals = Spend()  # run_finished's sums
        sink = Sink(writer, run_dir.name, new_trace_id(), [totals, *options.listeners], secrets)
        ctx = RunContext(
            crew,
            sink,
            Guard(crew.spec, ledger=shared.ledger),
            SharedState(crew.spec),
            models,
            recorded(providers, llm_log),
            tools,
            inputs,
            new_span_id(),
            cache=cache,
            # Offline and replayed calls reach no provider: no quota to respect.
            limiter=None if options.offline or source else _limiter(crew, shared),
            gate=shared.gate,
        )
        let_warn(ctx, options.listeners)
        seed(ctx, options.resume, llm_log)
        files = (writer.file, llm_log.file)
        reserve = _stop_on_write_failure(ctx, files, run_dir / RESERVE)
        try:
            return await _run(ctx, options, run_dir, totals, files)
        finally:
            reserve.release()


def _limiter(crew: Crew, shared: Shared) -> RateLimiter | None:
    return shared.limiter or RateLimiter.for_crew(crew.spec)


def _stop_on_write_failure(ctx: RunContext, files: tuple[LineFile, ...], room: Path) -> Reserve:
    """Hold room on the disk; when a log cannot be written, free it and stop the run."""
    reserve = Reserve(room)

    def on_failure(_failure: str) -> None:
        reserve.release()  # room for run_finished, output.json and state.json
        ctx.stop.set()  # nothing more is spent unrecorded

    for file in files:
        file.on_failure = on_failure
    return reserve


def _new_run_dir(runs: Path) -> Path:
    """A new folder for the run, its name a new run id: made here, never one that exists (two
    runs started in one millisecond may draw the same id; the second draws again).

    Raises:
        UsageError: the home cannot be written (read-only, a file in the way, a full disk).
    """
    writable_folder(runs, "cannot write runs in")
    while True:
        run_dir = runs / new_run_id()
        try:
            run_dir.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(write_failure(run_dir, exc)) from None
        return run_dir


def _open_logs(run_dir: Path, secrets: Secrets) -> tuple[EventWriter, LlmLog]:
    """The run's two logs, in its folder.

    Raises:
        UsageError: the home cannot be written (read-only, a file in the way, a full disk).
    """
    try:
        writer = EventWriter(run_dir / EVENTS)
    except OSError as exc:
        raise UsageError(write_failure(run_dir / EVENTS, exc)) from None
    try:
        return writer, LlmLog(run_dir / LLM_LOG, secrets)
    except OSError as exc:
        writer.close()
        raise UsageError(write_failure(run_dir / LLM_LOG, exc)) from None


async def _run(
    ctx: RunContext, options: RunOptions, run_dir: Path, totals: Spend, files: tuple[LineFile, ...]
) -> RunResult:
    _emit_started(ctx, options)
    started = time.monotonic()
    interrupted: list[str] = []
    undo = install_stops(ctx, interrupted, options.shared.stop)
    status: RunStatus = "failed"
    reason: str | None = "internal error"
    try:
        await run_tasks(ctx)
        status, reason = _verdict(ctx, interrupted, files)
    finally:
        undo()
        settle(options.listeners)
        output, lost = _finish(ctx, run_dir, (status, reason), time.monotonic() - started, totals)
        if options.shared.providers is None:  # shared clients are closed by their owner
            await close(ctx.providers)
    lost = [f.failure for f in files if f.failure] + lost
    if lost and status == "ok":  # the crew did its work, but its files are not all there
        status, reason = "failed", lost[0]
    return RunResult(
        ctx.sink.run_id,
        status,
        reason,
        dict(ctx.outcomes),
        str(run_dir),
        ctx.run_hit,
        output,
        tuple(lost),
    )


def _verdict(
    ctx: RunContext, interrupted: list[str], files: tuple[LineFile, ...]
) -> tuple[RunStatus, str | None]:
    full = next((f.failure for f in files if f.failure), None)
    if full:
        return "failed", full
    outcomes = list(ctx.outcomes.values())
    if ctx.crew.spec.process == "hierarchical":  # workers' failures went back to the manager
        outcomes = [o for o in outcomes if o.task == MANAGER_TASK]
    if interrupted:
        return "interrupted", f"interrupted by {interrupted[0]}"
    if ctx.run_hit:
        return "stopped", ctx.run_hit.message
    stopped = next((o for o in outcomes if o.status == "stopped"), None)
    if stopped:
        return "stopped", stopped.reason
    failed = next((o for o in outcomes if o.status == "failed"), None)
    if failed:
        return "failed", f"task {failed.task} failed: {failed.reason}"
    return "ok", None


def _emit_started(ctx: RunContext, options: RunOptions) -> None:
    spec = ctx.crew.spec
    started = RunStarted(
        crew=spec.name,
        crew_path=str(ctx.crew.path.resolve()),  # `mas resume` finds it from any folder
        process=spec.process,
        inputs=ctx.inputs,
        models={k: f"{m.provider}:{m.model}" for k, m in ctx.models.items()},
        endpoints=None if options.replay else _endpoints(ctx.models),
        limits=spec.limits.model_dump(),
        offline=options.offline,
        replay_of=options.replay,
        mas_version=__version__,
        resumed_from=options.resume.run_id if options.resume else None,
        batch_id=options.shared.batch_id,
        item_key=options.shared.item_key,
    )
    ctx.sink.emit(started, None, span=ctx.run_span)
    for model in ctx.guard.prices.unknown():
        ctx.sink.emit(Warning_(message=unpriced(model)), ctx.run_span)


def _endpoints(models: dict[str, ModelSpec]) -> dict[str, str] | None:
    urls = {name: url for name, model in models.items() if (url := endpoint(model))}
    return urls or None


def _finish(
    ctx: RunContext,
    run_dir: Path,
    verdict: tuple[RunStatus, str | None],
    elapsed: float,
    totals: Spend,
) -> tuple[dict[str, Any], list[str]]:
    """Emit run_finished, write state.json and output.json: the output, and what was lost."""
    status, reason = verdict
    counts: dict[str, int] = {}
    for outcome in ctx.outcomes.values():
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    finished = RunFinished(
        status=status,
        reason=reason,
        duration_s=round(elapsed, 6),
        llm_calls=ctx.guard.own_llm_calls,
        tool_calls=ctx.guard.own_tool_calls,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cache_read_tokens=totals.cache_read_tokens,
        cache_write_tokens=totals.cache_write_tokens,
        cost_usd=as_float(totals.cost),
        tasks=counts,
        price_data_version=ctx.guard.prices.version,
    )
    ctx.sink.emit(finished, None, span=ctx.run_span)
    scrub = ctx.sink.secrets.scrub_value  # the one place these two files are scrubbed
    output = scrub(_output_doc(ctx, status, reason))
    lost = [_write_json(run_dir / "output.json", output)]
    lost.append(_write_json(run_dir / "state.json", scrub(ctx.state.snapshot())))
    return output, [problem for problem in lost if problem]


def _output_doc(ctx: RunContext, status: RunStatus, reason: str | None) -> dict[str, Any]:
    order = [t.id for t in ctx.crew.spec.tasks if t.id in ctx.outcomes]
    order += [task_id for task_id in ctx.outcomes if task_id not in order]
    tasks = {
        task_id: {
            "agent": o.agent,
            "status": o.status,
            "output": o.output,
            "data": o.data,
            "reason": o.reason,
            "turns": o.turns,
        }
        for task_id in order
        if (o := ctx.outcomes[task_id])
    }
    return {
        "run_id": ctx.sink.run_id,
        "crew": ctx.crew.spec.name,
        "status": status,
        "reason": reason,
        "tasks": tasks,
    }


def _write_json(path: Path, value: Any) -> str | None:
    """Write then rename, so a reader never sees half a file; the problem, if it failed."""
    partial = path.with_suffix(".partial")
    text = dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return write_failure(path, exc)
    return None
