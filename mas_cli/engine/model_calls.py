"""One model call through the guard: checked before, retried with backoff, settled after.

Every attempt is an `llm_call` event and counts against the run's budgets and circuit breaker.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from mas_cli.cost.tokens import count_messages
from mas_cli.engine.context import RunContext, digest
from mas_cli.engine.outcomes import Stopped
from mas_cli.events.models import LlmCall, Retry
from mas_cli.llm.convert import openai_messages, openai_tools
from mas_cli.llm.registry import provider_key
from mas_cli.llm.types import Completion, LlmFailure, Request, Usage

MAX_BACKOFF_S = 60.0
PLANNED_OUTPUT_TOKENS = 4096  # the worst case planned for when a model sets no max_tokens


@dataclass(frozen=True)
class Attempt:
    """Where one call happens: for events and guard checks."""

    agent: str
    task: str
    turn: int
    parent: str


async def call_model(ctx: RunContext, request: Request, where: Attempt) -> Completion | Stopped:
    """Make the call, retrying what is worth retrying; a limit or a final failure is Stopped."""
    wait = 0.0
    for attempt in range(1, ctx.crew.spec.limits.max_retries + 2):
        hit = ctx.guard.check_llm_call(where.agent, where.task, where.turn, worst_tokens(request), None)
        if hit:
            ctx.limit_hit(hit, where.parent)
            return Stopped(hit.message, hit)
        result = await _attempt(ctx, request, where, attempt, wait)
        if not isinstance(result, LlmFailure):
            return result
        if not result.retryable or attempt > ctx.crew.spec.limits.max_retries:
            return Stopped(f"model call failed: {result}")
        wait = backoff(attempt, result.retry_after_s, ctx.crew.spec.limits.retry_backoff_s)
        ctx.sink.emit(
            Retry, where.parent, agent=where.agent, task=where.task, turn=where.turn,
            what="llm_call", attempt=attempt + 1, reason=str(result), wait_s=round(wait, 3),
        )
        await asyncio.sleep(wait)
    raise AssertionError("unreachable: the loop returns on its last attempt")


async def _attempt(
    ctx: RunContext, request: Request, where: Attempt, attempt: int, waited: float
) -> Completion | Stopped | LlmFailure:
    provider = ctx.providers[provider_key(request.model)]
    started = time.monotonic()
    try:
        async with asyncio.timeout(ctx.crew.spec.limits.llm_timeout_s):
            completion = await provider.complete(request)
    except TimeoutError:
        failure = LlmFailure(
            f"no answer within llm_timeout_s {ctx.crew.spec.limits.llm_timeout_s:g}", kind="timeout", retryable=True
        )
        return _failed(ctx, request, where, attempt, waited, started, failure)
    except LlmFailure as failure:
        return _failed(ctx, request, where, attempt, waited, started, failure)
    return _settle(ctx, request, where, attempt, waited, started, completion)


def _settle(
    ctx: RunContext, request: Request, where: Attempt, attempt: int, waited: float, started: float,
    completion: Completion,
) -> Completion | Stopped:
    usage, message = completion.usage, completion.message
    _emit_call(
        ctx, request, where, attempt, waited, started, usage, status="ok",
        response_model=completion.response_model, finish_reason=completion.finish_reason,
        tool_calls=[c.name for c in message.tool_calls],
        output_digest=digest([message.content, [(c.name, c.arguments) for c in message.tool_calls]]),
    )
    hit = ctx.guard.record_llm_call(where.agent, where.task, usage.total, None)
    if hit:
        ctx.limit_hit(hit, where.parent)
        return Stopped(hit.message, hit, partial=message.content or None)
    return completion


def _failed(
    ctx: RunContext, request: Request, where: Attempt, attempt: int, waited: float, started: float,
    failure: LlmFailure,
) -> LlmFailure | Stopped:
    status = "timeout" if failure.kind == "timeout" else "error"
    _emit_call(ctx, request, where, attempt, waited, started, Usage(), status=status, error=str(failure),
               http_status=failure.status)
    hit = ctx.guard.record_llm_call(where.agent, where.task, 0, None)
    if hit:
        ctx.limit_hit(hit, where.parent)
        return Stopped(hit.message, hit)
    return failure


def _emit_call(
    ctx: RunContext, request: Request, where: Attempt, attempt: int, waited: float, started: float,
    usage: Usage, **fields: object,
) -> None:
    ctx.sink.emit(
        LlmCall, where.parent, agent=where.agent, task=where.task, turn=where.turn,
        provider=request.model.provider, model=request.model.model, attempt=attempt,
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens, usage_source=usage.source, raw_usage=usage.raw,
        latency_s=round(time.monotonic() - started, 6), wait_s=round(waited, 3), **fields,
    )


def worst_tokens(request: Request) -> int:
    """What a call could spend at worst: its counted input plus its whole output allowance."""
    counted = count_messages(
        openai_messages(request.system, request.messages), request.model.model,
        openai_tools(request.tools) or None,
    )
    return counted.tokens + (request.model.max_tokens or PLANNED_OUTPUT_TOKENS)


def backoff(attempt: int, retry_after_s: float | None, base_s: float) -> float:
    """Exponential backoff with full jitter; a server's retry-after is a floor."""
    jitter = random.uniform(0, min(MAX_BACKOFF_S, base_s * 2 ** (attempt - 1)))
    return max(jitter, retry_after_s) if retry_after_s is not None else jitter
