"""Tool calls from one model turn: guarded, run concurrently, logged, answered in call order."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from msgspec import Struct

from mas_cli import records
from mas_cli.engine.context import Offered, RunContext
from mas_cli.engine.digests import digest
from mas_cli.engine.outcomes import LimitHit
from mas_cli.events import volatile
from mas_cli.events.models import ToolCallEvent, ToolStatus, Warning_
from mas_cli.llm.types import CallSite, Message, ToolCall
from mas_cli.tools.base import ToolResult
from mas_cli.tools.cache import CachedCall
from mas_cli.tools.names import wire_name


class ToolTurn(Struct, frozen=True):
    """The answers to one turn's tool calls, and the first limit they hit, if any."""

    messages: tuple[Message, ...]
    hit: LimitHit | None
    fingerprint: str
    failure: str | None = None
    """A tool that cannot be used again (an MCP server dead after its restart): why."""


async def run_tool_calls(ctx: RunContext, site: CallSite, calls: tuple[ToolCall, ...]) -> ToolTurn:
    """Run every call the model asked for that fits the limits, at once; refuse the others.

    Results go back in the order asked. A call past a limit is never made (the limit_hit event
    records the first); the calls that fit still run, and the turn ends with that hit.
    """
    guard = ctx.guard
    calls = tuple(_as_offered(ctx.toolbox(site.agent), c) for c in calls)
    again = [_made_before(ctx, site, c) for c in calls]
    hits = [
        guard.check_tool_call(site, c.name, digest(c.arguments), again=a)
        for c, a in zip(calls, again, strict=True)
    ]
    hit = next((h for h in hits if h), None)
    if hit:
        ctx.limit_hit(hit, site.span)
    fits = [(c, a) for c, a, h in zip(calls, again, hits, strict=True) if h is None]
    results = await asyncio.gather(*(_one(ctx, site, c, a) for c, a in fits))
    if hit:
        return ToolTurn((), hit, "")
    pairs = list(zip(calls, results, strict=True))
    messages = tuple(
        Message(role="tool", content=r.output, tool_call_id=c.id, name=c.name, is_error=not r.ok)
        for c, r in pairs
    )
    failure = next((r.error or r.output for r in results if r.fatal), None)
    fingerprint = digest([(c.name, c.arguments, r.output) for c, r in pairs])
    return ToolTurn(messages, None, fingerprint, failure)


def _made_before(ctx: RunContext, site: CallSite, call: ToolCall) -> bool:
    """A resume: this call is one the chain made and counted (its turn answered again from
    the recording), so max_tool_calls does not count it twice."""
    if ctx.resume is None:
        return False
    offered = ctx.toolbox(site.agent).get(call.name)
    tool = (offered.tool if offered else None) or call.name
    where = (site.agent, site.task, site.turn, call.id or "", tool, digest(call.arguments))
    return ctx.resume.made_before(where)


async def _one(ctx: RunContext, site: CallSite, call: ToolCall, again: bool) -> ToolResult:
    refusal = _refusal(call, set(ctx.toolbox(site.agent)))
    started = time.monotonic()
    try:
        done = await _held(ctx, site, call, refusal, again)
    except asyncio.CancelledError:  # Ctrl-C, SIGTERM or a timeout with the call in flight
        _interrupted(ctx, site, call, time.monotonic() - started)
        raise
    for problem in done.problems:  # the cache failed: a warning, never a failed call
        ctx.sink.emit(Warning_(message=problem), site)
    result = done.result
    status = _status(result, refused=refusal is not None)
    _emit_call(ctx, site, call, status, latency_s=result.latency_s, error=result.error, done=done)
    if ctx.gate is not None and done.idempotency_key is not None and not done.replayed:
        await ctx.gate.checkpoint()  # a side effect done: saved before the run goes on
    return result


def _interrupted(ctx: RunContext, site: CallSite, call: ToolCall, latency_s: float) -> None:
    """A call cut short still gets its line in the log, so it never vanishes."""
    stopped = "the run stopped while the call was in flight"
    _emit_call(ctx, site, call, "interrupted", latency_s=latency_s, error=stopped)


def _emit_call(
    ctx: RunContext,
    site: CallSite,
    call: ToolCall,
    status: ToolStatus,
    *,
    latency_s: float,
    error: str | None,
    done: CachedCall | None = None,
) -> None:
    """The tool_call event: who called what with which arguments, and how it went (`done`:
    the call's result and what the cache did; None when it was cut short)."""
    shape, varied = _args_shape(call.arguments)
    output = done.result.output if done else None
    offered = ctx.toolbox(site.agent).get(call.name)
    event = ToolCallEvent(
        tool=(offered.tool if offered else None) or call.name,
        server=offered.server if offered else None,
        tool_call_id=call.id,
        args_digest=digest(call.arguments),
        args_shape=shape,
        args_varied=varied,
        result_digest=None if output is None else digest(output),
        status=status,
        error=error,
        latency_s=round(latency_s, 6),
        cached=done is not None and done.status == "hit",
        cache_key=done.key if done else None,
        saved_s=done.saved_s if done else None,
        output_bytes=0 if output is None else len(output.encode()),
        **_effect_fields(done),
    )
    ctx.sink.emit(event, site)


def _effect_fields(done: CachedCall | None) -> dict[str, Any]:
    """A side_effect call's key and result (what a resume gives back instead of calling)."""
    if done is None or done.idempotency_key is None:
        return {}
    fields = {"idempotency_key": done.idempotency_key, "result": done.result.output}
    return {**fields, "replayed": True} if done.replayed else fields


def _args_shape(arguments: Any) -> tuple[str | None, str | None]:
    """The arguments' digest without their volatile parts, so triage sees repeats through them,
    and those parts named; (None, None) when there are none."""
    found = volatile.shape(json.dumps(arguments, sort_keys=True, default=str))
    if not found.parts:
        return None, None
    return digest(found.text), volatile.summary(found)


async def _call(ctx: RunContext, site: CallSite, call: ToolCall, refusal: str | None) -> CachedCall:
    """The refusal, or the call as the agent's toolbox runs it."""
    if refusal:
        return CachedCall(ToolResult(ok=False, output=f"error: {refusal}", error=refusal), "off")
    return await ctx.toolbox(site.agent)[call.name].run(ctx, site, call.arguments)


async def _held(
    ctx: RunContext, site: CallSite, call: ToolCall, refusal: str | None, again: bool
) -> CachedCall:
    """A call the guard let through: a counted tool counts once it starts (cancelled too); a
    refusal, an uncounted tool (a delegation) or a side effect answered from an earlier run
    gives its place back. A call made `again` held no place: the chain counted it."""
    if again:
        return await _call(ctx, site, call, refusal)
    if refusal or not ctx.toolbox(site.agent)[call.name].counted:
        ctx.guard.record_tool_call(site.agent, ran=False)
        return await _call(ctx, site, call, refusal)
    done: CachedCall | None = None
    try:
        done = await _call(ctx, site, call, refusal)
        return done
    finally:
        ctx.guard.record_tool_call(site.agent, ran=done is None or not done.replayed)


def _as_offered(box: dict[str, Offered], call: ToolCall) -> ToolCall:
    """A call naming a tool as the crew file does (`files.read_file`, in an offline script)
    is the call of the tool the model was offered (`files__read_file`)."""
    wire = wire_name(call.name)
    return records.replace(call, name=wire) if call.name not in box and wire in box else call


def _refusal(call: ToolCall, allowed: set[str]) -> str | None:
    if call.arguments_error:
        problem = call.arguments_error
        return f"the arguments of {call.name} are not JSON ({problem}); send a JSON object"
    if call.name not in allowed:
        have = ", ".join(sorted(allowed)) or "none"
        return f"there is no tool '{call.name}'; the tools you have are: {have}"
    return None


def _status(result: ToolResult, *, refused: bool) -> ToolStatus:
    if refused:
        return "refused"
    if result.timed_out:
        return "timeout"
    return "ok" if result.ok else "error"
