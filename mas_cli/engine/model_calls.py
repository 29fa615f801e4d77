"""One model call through the guard: checked before, retried with backoff, settled after.

Every attempt is an `llm_call` event and counts against the run's budgets and circuit breaker.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from decimal import Decimal

from msgspec import Struct

from mas_cli import records
from mas_cli.cost.tokens import count_messages, count_messages_bound, count_messages_floor
from mas_cli.cost.tokens import ready as tokenizer_ready
from mas_cli.engine.context import RunContext
from mas_cli.engine.digests import digest
from mas_cli.engine.outcomes import Ended, Failed, LimitHit, Stopped
from mas_cli.engine.pacing import pace
from mas_cli.engine.replayer import replayed_call
from mas_cli.events import volatile
from mas_cli.events.models import CallStatus, LlmCall, Retry
from mas_cli.events.spend import as_float
from mas_cli.llm.convert import openai_messages, openai_tools
from mas_cli.llm.faults import beyond_reach
from mas_cli.llm.input_bound import input_bound
from mas_cli.llm.registry import provider_key
from mas_cli.llm.types import CallSite, Completion, LlmFailure, Message, Request, Usage

MAX_BACKOFF_S = 60.0


async def call_model(ctx: RunContext, request: Request) -> Completion | Ended:
    """Make the call asked at `request.site`, retrying what is worth retrying: a limit
    Stopped, a final failure Failed. Each attempt is the request with its own call site
    (attempt 1, 2, ...), which the guard, the rate limiter, the log and the recording read.
    On a resume, a request the recording answers is not made at all (see engine.replayer)."""
    replayed = replayed_call(ctx, request)
    if replayed is not None:
        return replayed
    limits = ctx.crew.spec.limits
    call = _Call(ctx, request, held=worst_case(ctx, request))
    planned: int | None = None  # the same request each attempt: planned once, when first asked
    for attempt in range(1, limits.max_retries + 2):
        if ctx.run_hit:  # the run winds down: no new attempt starts
            return Stopped(ctx.run_hit)
        call.request = records.replace(request, site=records.replace(request.site, attempt=attempt))
        hit = ctx.guard.check_llm_call(call.request.site, *call.held)
        if hit:
            ctx.limit_hit(hit, call.request.site.span)
            return Stopped(hit)
        planned = await planned_tokens(ctx, request) if planned is None else planned
        ticket = await pace(ctx, call.request, planned)
        call.waited += ticket.wait_s
        hit = await _admitted(ctx, call, planned)
        if hit:
            ctx.limit_hit(hit, call.request.site.span)
            return Stopped(hit)
        result = await call.attempt()
        ticket.settle(result)
        if ctx.gate is not None:
            await ctx.gate.settled(call.request.site, *call.spent)
        if not isinstance(result, LlmFailure):
            return result
        wait = _retry_wait(ctx, call.request.site, result)
        if isinstance(wait, Stopped | Failed):
            return wait
        call.waited = wait
        await asyncio.sleep(wait)
    raise AssertionError("unreachable: the loop returns on its last attempt")


async def _admitted(ctx: RunContext, call: _Call, planned: int) -> LimitHit | None:
    """Ask the gate (a budget and rate limits shared beyond this process), if the run has one;
    a refusal gives back the hold the run's guard took for the attempt."""
    if ctx.gate is None:
        return None
    site = call.request.site
    hit = await ctx.gate.admit(site, call.request.model, call.held, planned)
    if hit is not None:
        ctx.guard.release_llm_call(site, call.held)
    return hit


async def planned_tokens(ctx: RunContext, request: Request) -> int:
    """What the rate limiter plans a call at, its prompt plus its output cap, or 0 when no
    bucket covering its model counts tokens (then nothing is counted).

    The prompt is taken at its bound from sizes alone (never below the exact count) while that
    fits every bucket now: the bucket is settled to the real usage after the call, so the bound
    only holds more for a moment. Counted exactly, with the tokenizer built off the loop, when
    the bound would make the call wait, and for a gate (its windows are never settled)."""
    if ctx.limiter is None or not ctx.limiter.counts_tokens(request.model):
        return 0
    bound = prompt_bound(request) + request.model.output_cap
    if ctx.gate is None and ctx.limiter.holds(request.model, bound):
        return bound
    await tokenizer_ready(request.model.model)
    return worst_tokens(request)


def _retry_wait(ctx: RunContext, site: CallSite, failure: LlmFailure) -> float | Ended:
    """How long to wait before the next attempt (said in a retry event), or why not to retry:
    not retryable, out of retries, or a server asking for a wait past max_retry_wait_s."""
    limits, attempt = ctx.crew.spec.limits, site.attempt
    if not failure.retryable or attempt > limits.max_retries:
        return Failed(f"model call failed: {failure}")
    asked = failure.retry_after_s
    give_up = beyond_reach(asked, limits.max_retry_wait_s, ctx.guard.remaining_s())
    if give_up:
        return Failed(f"model call failed: {failure}; {give_up}")
    wait = backoff(attempt, asked, limits.retry_backoff_s)
    retry = Retry(what="llm_call", attempt=attempt + 1, reason=str(failure), wait_s=round(wait, 3))
    ctx.sink.emit(retry, site)
    return wait


class _Call(Struct):
    """One model call's attempts: each is made, logged and settled against the guard."""

    ctx: RunContext
    request: Request  # this attempt's: its site says which attempt it is
    held: tuple[int, Decimal | None]  # the worst case the guard holds while an attempt runs
    waited: float = 0.0
    started: float = 0.0
    spent: tuple[int, Decimal | None] = (0, None)  # the last attempt's tokens and dollars

    async def attempt(self) -> Completion | Ended | LlmFailure:
        self.started = time.monotonic()
        provider = self.ctx.providers[provider_key(self.request.model)]
        timeout = self.ctx.crew.spec.limits.llm_timeout_s
        try:
            async with asyncio.timeout(timeout):
                completion = await provider.complete(self.request)
        except TimeoutError:
            return self._failed(
                LlmFailure(
                    f"no answer within llm_timeout_s {timeout:g}", kind="timeout", retryable=True
                )
            )
        except LlmFailure as failure:
            return self._failed(failure)
        except asyncio.CancelledError:
            self._cancelled()
            raise
        return self._settle(completion)

    def _cancelled(self) -> None:
        """A call cut off by a stop is still an attempt: logged and counted at its worst case
        (the provider may have billed it), in its event and in the run's spend."""
        tokens, cost = self.held
        worst = "cancelled: the run or task was stopped; counted at its worst case"
        self._emit("cancelled", cost, failure=worst)
        self.ctx.guard.record_llm_call(self.request.site, tokens, cost, self.held)

    def _settle(self, completion: Completion) -> Completion | Stopped:
        message = completion.message
        cost = self.ctx.guard.prices.cost(self.request.model, completion.usage)
        proxy = cost is None and completion.reported_cost_usd is not None
        if proxy:  # no price of our own: what the proxy charged is the best figure there is
            cost = Decimal(str(completion.reported_cost_usd))
        self._emit("ok", cost, completion=completion, proxy=proxy)
        self.spent = (completion.usage.total, cost)
        hit = self.ctx.guard.record_llm_call(
            self.request.site, completion.usage.total, cost, self.held
        )
        if hit:
            self.ctx.limit_hit(hit, self.request.site.span)
            return Stopped(hit, partial=message.content or None)
        return completion

    def _failed(self, failure: LlmFailure) -> LlmFailure | Ended:
        timed_out = failure.kind == "timeout"
        # We hung up on a call that timed out; the server may have gone on and billed it.
        tokens, cost = self.held if timed_out else (0, self._no_usage_cost())
        status: CallStatus = "timeout" if timed_out else "error"
        self._emit(status, cost, failure=str(failure), http_status=failure.status)
        self.spent = (tokens, cost)
        hit = self.ctx.guard.record_llm_call(self.request.site, tokens, cost, self.held)
        if hit:
            self.ctx.limit_hit(hit, self.request.site.span)
            return Stopped(hit)
        return failure

    def _no_usage_cost(self) -> Decimal | None:
        return self.ctx.guard.prices.cost(self.request.model, Usage())

    def _emit(
        self,
        status: CallStatus,
        cost: Decimal | None,
        *,
        completion: Completion | None = None,
        proxy: bool = False,
        failure: str | None = None,
        http_status: int | None = None,
    ) -> None:
        """The attempt's llm_call event: its answer (`completion`), or why it has none."""
        model, usage = self.request.model, completion.usage if completion else Usage()
        message = completion.message if completion else None
        calls = message.tool_calls if message else ()
        shape, varied = _output_shape(message) if message else (None, None)
        event = LlmCall(
            provider=model.provider,
            model=model.model,
            response_model=completion.response_model if completion else None,
            attempt=self.request.site.attempt,
            status=status,
            error=failure,
            http_status=http_status,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            usage_source=usage.source,
            raw_usage=usage.raw,
            cost_usd=as_float(cost),
            cost_source="proxy" if proxy else None,
            latency_s=round(time.monotonic() - self.started, 6),
            wait_s=round(self.waited, 3),
            finish_reason=completion.finish_reason if completion else None,
            tool_calls=[c.name for c in calls],
            output_digest=None if message is None else _answer_digest(message),
            output_shape=shape,
            output_varied=varied,
        )
        self.ctx.sink.emit(event, self.request.site)


def _answer_digest(message: Message) -> str:
    """What the model answered, as a digest: its text and the calls it asked for."""
    return digest([message.content, [(c.name, c.arguments) for c in message.tool_calls]])


def worst_case(ctx: RunContext, request: Request) -> tuple[int, Decimal | None]:
    """A call's worst case in tokens, and in dollars at its model's price (None: unknown):
    a true upper bound of its input (see llm.input_bound) plus the output cap it is sent with."""
    inputs, output = input_bound(request), request.model.output_cap
    return inputs + output, ctx.guard.prices.worst_cost(request.model, inputs, output)


def prompt_tokens(request: Request) -> int:
    """Tokens the request sends: system prompt, messages and tool schemas."""
    messages = openai_messages(request.system, request.messages)
    return count_messages(messages, request.model.model, openai_tools(request.tools) or None).tokens


def prompt_bound(request: Request) -> int:
    """At least prompt_tokens(request), from sizes alone: no tokenizer is built or waited for."""
    messages = openai_messages(request.system, request.messages)
    tools = openai_tools(request.tools) or None
    return count_messages_bound(messages, request.model.model, tools)


def prompt_floor(request: Request) -> int:
    """At most prompt_tokens(request), from sizes alone: no tokenizer is built or waited for."""
    messages = openai_messages(request.system, request.messages)
    tools = openai_tools(request.tools) or None
    return count_messages_floor(messages, request.model.model, tools)


def worst_tokens(request: Request) -> int:
    """What a call is planned at by the rate limiter: its counted prompt plus its output cap."""
    return prompt_tokens(request) + request.model.output_cap


def backoff(attempt: int, retry_after_s: float | None, base_s: float) -> float:
    """Exponential backoff with full jitter; a server's retry-after is a floor."""
    jitter = random.uniform(0, min(MAX_BACKOFF_S, base_s * 2 ** (attempt - 1)))
    return max(jitter, retry_after_s) if retry_after_s is not None else jitter


def _output_shape(message: Message) -> tuple[str | None, str | None]:
    """The answer's digest without its volatile parts (ids, times, counters), and those parts,
    so triage sees an agent saying the same thing again through them (a status it polls for, a
    stamped reply); (None, None) when it has none."""
    said = volatile.shape(message.content or "")
    asked = [
        volatile.shape(json.dumps(c.arguments, sort_keys=True, default=str))
        for c in message.tool_calls
    ]
    found = volatile.joined(said, *asked)
    if not found.parts:
        return None, None
    calls = [(c.name, a.text) for c, a in zip(message.tool_calls, asked, strict=True)]
    return digest([said.text, calls]), volatile.summary(found)
