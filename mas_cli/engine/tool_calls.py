"""Tool calls from one model turn: guarded, run concurrently, logged, answered in call order."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from mas_cli.engine.context import RunContext, Where, digest
from mas_cli.engine.outcomes import LimitHit
from mas_cli.events import volatile
from mas_cli.events.models import ToolCall as ToolCallEvent
from mas_cli.events.models import Warning_
from mas_cli.llm.types import Message, ToolCall
from mas_cli.tools.base import ToolResult
from mas_cli.tools.cache import CachedCall


@dataclass(frozen=True)
class ToolTurn:
    """The answers to one turn's tool calls, and the first limit they hit, if any."""

    messages: tuple[Message, ...]
    hit: LimitHit | None
    fingerprint: str


async def run_tool_calls(ctx: RunContext, where: Where, calls: tuple[ToolCall, ...]) -> ToolTurn:
    """Run every call the model asked for that fits the limits, at once; refuse the others.

    Results go back in the order asked. A call past a limit is never made (the limit_hit event
    records the first); the calls that fit still run, and the turn ends with that hit.
    """
    guard = ctx.guard
    hits = [
        guard.check_tool_call(where.agent, where.task, c.name, digest(c.arguments)) for c in calls
    ]
    hit = next((h for h in hits if h), None)
    if hit:
        ctx.limit_hit(hit, where.parent)
    fits = [c for c, h in zip(calls, hits, strict=True) if h is None]
    results = await asyncio.gather(*(_one(ctx, where, c) for c in fits))
    if hit:
        return ToolTurn((), hit, "")
    pairs = list(zip(calls, results, strict=True))
    messages = tuple(
        Message(role="tool", content=r.output, tool_call_id=c.id, name=c.name, is_error=not r.ok)
        for c, r in pairs
    )
    return ToolTurn(messages, None, digest([(c.name, c.arguments, r.output) for c, r in pairs]))


async def _one(ctx: RunContext, where: Where, call: ToolCall) -> ToolResult:
    refusal = _refusal(call, set(ctx.toolbox(where.agent)))
    started = time.monotonic()
    try:
        done = await _held(ctx, where, call, refusal)
    except asyncio.CancelledError:  # Ctrl-C, SIGTERM or a timeout with the call in flight
        _interrupted(ctx, where, call, time.monotonic() - started)
        raise
    for problem in done.problems:  # the cache failed: a warning, never a failed call
        ctx.sink.emit(
            Warning_,
            where.parent,
            agent=where.agent,
            task=where.task,
            turn=where.turn,
            message=problem,
        )
    result = done.result
    _emit_call(
        ctx,
        where,
        call,
        result_digest=digest(result.output),
        status=_status(result, refused=refusal is not None),
        error=result.error,
        latency_s=round(result.latency_s, 6),
        output_bytes=len(result.output.encode()),
        cached=done.status == "hit",
        cache_key=done.key,
        saved_s=done.saved_s,
        **_effect_fields(done),
    )
    return result


def _effect_fields(done: CachedCall) -> dict[str, Any]:
    """A side_effect call's key and result (what a resume gives back instead of calling)."""
    if done.idempotency_key is None:
        return {}
    fields = {"idempotency_key": done.idempotency_key, "result": done.result.output}
    return {**fields, "replayed": True} if done.replayed else fields


def _interrupted(ctx: RunContext, where: Where, call: ToolCall, latency_s: float) -> None:
    """A call cut short still gets its line in the log, so it never vanishes."""
    _emit_call(
        ctx,
        where,
        call,
        status="interrupted",
        error="the run stopped while the call was in flight",
        latency_s=round(latency_s, 6),
    )


def _emit_call(ctx: RunContext, where: Where, call: ToolCall, **outcome: Any) -> None:
    """The tool_call event: who called what with which arguments, and how it went."""
    ctx.sink.emit(
        ToolCallEvent,
        where.parent,
        agent=where.agent,
        task=where.task,
        turn=where.turn,
        tool=call.name,
        tool_call_id=call.id,
        args_digest=digest(call.arguments),
        **_args_shape(call.arguments),
        **outcome,
    )


def _args_shape(arguments: Any) -> dict[str, str]:
    """The arguments' digest without their volatile parts, so triage sees repeats through them."""
    found = volatile.shape(json.dumps(arguments, sort_keys=True, default=str))
    if not found.parts:
        return {}
    return {"args_shape": digest(found.text), "args_varied": volatile.summary(found)}


async def _call(ctx: RunContext, where: Where, call: ToolCall, refusal: str | None) -> CachedCall:
    """The refusal, or the call as the agent's toolbox runs it."""
    if refusal:
        return CachedCall(ToolResult(ok=False, output=f"error: {refusal}", error=refusal), "off")
    return await ctx.toolbox(where.agent)[call.name].run(ctx, where, call.arguments)


async def _held(ctx: RunContext, where: Where, call: ToolCall, refusal: str | None) -> CachedCall:
    """A call the guard let through: a counted tool counts once it starts (cancelled too); a
    refusal or an uncounted tool (a delegation) gives its place back at once."""
    if refusal or not ctx.toolbox(where.agent)[call.name].counted:
        ctx.guard.record_tool_call(where.agent, ran=False)
        return await _call(ctx, where, call, refusal)
    try:
        return await _call(ctx, where, call, refusal)
    finally:
        ctx.guard.record_tool_call(where.agent)


def _refusal(call: ToolCall, allowed: set[str]) -> str | None:
    if call.arguments_error:
        problem = call.arguments_error
        return f"the arguments of {call.name} are not JSON ({problem}); send a JSON object"
    if call.name not in allowed:
        have = ", ".join(sorted(allowed)) or "none"
        return f"there is no tool '{call.name}'; the tools you have are: {have}"
    return None


def _status(result: ToolResult, *, refused: bool) -> str:
    if refused:
        return "refused"
    if result.timed_out:
        return "timeout"
    return "ok" if result.ok else "error"
