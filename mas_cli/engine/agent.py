"""The agent loop: one agent on one task, turn by turn, until a final answer or a stop.

run_task -> _loop -> _run_turn -> call_model (guarded) / run_tool_calls / _finish
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from msgspec import Struct, field

from mas_cli import records
from mas_cli.cost.tokens import ready as tokenizer_ready
from mas_cli.engine import trimming
from mas_cli.engine.answers import extract_json, unfinished
from mas_cli.engine.context import RunContext
from mas_cli.engine.digests import digest
from mas_cli.engine.model_calls import call_model, prompt_bound, prompt_floor, prompt_tokens
from mas_cli.engine.outcomes import (
    Ended,
    Failed,
    FinalOutput,
    LimitHit,
    RunAgain,
    Stopped,
    TaskOutcome,
    TurnOutcome,
)
from mas_cli.engine.prompts import system_prompt, task_prompt
from mas_cli.engine.state import ABSENT
from mas_cli.engine.tool_calls import run_tool_calls
from mas_cli.events.jsonsafe import refusal
from mas_cli.events.logged import NOT_WRITTEN
from mas_cli.events.models import (
    HistoryTrimmed,
    Retry,
    StateWrite,
    TaskFinished,
    TaskStarted,
    TaskStatus,
)
from mas_cli.events.text import fix_value, loads
from mas_cli.events.writer import new_span_id
from mas_cli.llm.types import Assignment, CallSite, Completion, Message, Request, ToolSchema
from mas_cli.spec.models import TaskSpec
from mas_cli.spec.patterns import schema_validator


class Conversation(Struct):
    """One task's conversation and bookkeeping."""

    task: TaskSpec
    agent: str
    span: str
    parent: str
    request: Request
    read_versions: dict[str, int]
    invalid_answers: int = 0
    turn: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    last_text: str | None = None
    started: float = field(default_factory=time.monotonic)
    scale: float = 1.0  # the server's prompt tokens per token we count (its own tokenizer)
    unsettled: tuple[Request, int] | None = None  # a prompt and the server's count of it

    def add(self, *messages: Message) -> None:
        """Append messages to the conversation."""
        self.request = _replace(self.request, messages=self.request.messages + messages)


async def run_task(
    ctx: RunContext, task: TaskSpec, parent: str | None = None, plan: tuple[Assignment, ...] = ()
) -> TaskOutcome:
    """Run one task to a final output or a stop, and record how it ended (cancelled too).

    `parent` is the span the task hangs under: the run, or the handoff that delegated it;
    `plan` a manager's task list, as data.
    """
    conv = _start(ctx, task, parent or ctx.run_span, plan)
    timeout = ctx.crew.spec.limits.task_timeout_s
    try:
        async with asyncio.timeout(timeout):
            outcome = await _loop(ctx, conv)
    except TimeoutError:
        elapsed = time.monotonic() - conv.started
        hit = LimitHit("task_timeout_s", round(elapsed, 3), timeout, "task", conv.agent, task.id)
        ctx.limit_hit(hit, conv.span)
        outcome = Stopped(hit, conv.last_text)
    except asyncio.CancelledError:
        _end(ctx, conv, _stopped_from_outside(ctx, conv), cancelled=True)
        raise
    return _end(ctx, conv, outcome)


def _start(
    ctx: RunContext, task: TaskSpec, parent: str, plan: tuple[Assignment, ...]
) -> Conversation:
    agent_name = task.agent or ""
    agent = ctx.crew.spec.agent(agent_name)
    prompt = task_prompt(task, ctx.prompt_values())
    started = TaskStarted(
        agent=agent_name,
        task=task.id,
        depends_on=list(task.depends_on),
        prompt_digest=digest(prompt),
    )
    span = ctx.sink.emit(started, parent)
    request = Request(
        model=ctx.models[agent.model],
        system=system_prompt(agent, task),
        messages=(Message(role="user", content=prompt),),
        tools=_tool_schemas(ctx, agent_name),
        output_schema=task.output_schema,
        timeout_s=ctx.crew.spec.limits.llm_timeout_s,
        plan=plan,
    )
    return Conversation(task, agent_name, span, parent, request, ctx.state.versions())


def _tool_schemas(ctx: RunContext, agent_name: str) -> tuple[ToolSchema, ...]:
    return tuple(offered.schema for offered in ctx.toolbox(agent_name).values())


def _stopped_from_outside(ctx: RunContext, conv: Conversation) -> Ended:
    """The run is stopping: by a limit hit elsewhere, or from outside (Ctrl-C, SIGTERM)."""
    if ctx.run_hit:
        return Stopped(ctx.run_hit, conv.last_text)
    return Failed("the run was stopped", conv.last_text)


async def _loop(ctx: RunContext, conv: Conversation) -> FinalOutput | Ended:
    while True:
        if ctx.winding_down:
            return _stopped_from_outside(ctx, conv)
        conv.turn += 1
        outcome = await _run_turn(ctx, conv)
        if not isinstance(outcome, RunAgain):
            return outcome


async def _run_turn(ctx: RunContext, conv: Conversation) -> TurnOutcome:
    if await _settle_scale(ctx, conv):
        _trim(ctx, conv)
    site = CallSite(conv.agent, conv.task.id, conv.turn, span=new_span_id())  # the turn's
    conv.request = _replace(conv.request, site=site)
    completion = await call_model(ctx, conv.request)
    if isinstance(completion, Stopped | Failed):
        return records.replace(completion, partial=completion.partial or conv.last_text)
    _calibrate(conv, completion)
    message = completion.message
    conv.input_tokens += completion.usage.input_tokens
    conv.output_tokens += completion.usage.output_tokens
    conv.add(message)
    conv.last_text = message.content or conv.last_text
    if message.tool_calls and ctx.run_hit:  # the run winds down: no new tool call starts
        return Stopped(ctx.run_hit, conv.last_text)
    problem = unfinished(completion, conv.request.model)
    if problem:
        return _unfinished(ctx, conv, problem, site)
    if message.tool_calls:
        return await _tools(ctx, conv, completion, site)
    return _finish(ctx, conv, message.content, site)


def _unfinished(ctx: RunContext, conv: Conversation, problem: str, site: CallSite) -> TurnOutcome:
    """A cut-off answer fails the task (the same cap would cut it again); an empty one is
    asked again, as an invalid answer is."""
    if problem.startswith("answer cut off"):
        return Failed(problem, conv.last_text)
    if conv.invalid_answers >= conv.task.max_retries:
        return Failed(problem, conv.last_text)
    return _reask_after(ctx, conv, [problem], site)


async def _tools(
    ctx: RunContext, conv: Conversation, completion: Completion, site: CallSite
) -> TurnOutcome:
    result = await run_tool_calls(ctx, site, completion.message.tool_calls)
    if result.hit:
        return Stopped(result.hit, conv.last_text)
    conv.add(*result.messages)
    if result.failure:
        return Failed(result.failure, conv.last_text)
    hit = ctx.guard.record_progress(site, "tools:" + result.fingerprint)
    if hit:
        ctx.limit_hit(hit, site.span)
        return Stopped(hit, conv.last_text)
    return RunAgain("tool results")


def _finish(ctx: RunContext, conv: Conversation, text: str, site: CallSite) -> TurnOutcome:
    hit = ctx.guard.record_progress(site, "answer:" + digest(text))
    if hit:
        ctx.limit_hit(hit, site.span)
        return Stopped(hit, text)
    schema = conv.task.output_schema
    if schema is None:
        return FinalOutput(text)
    data, errors, stripped = parse_output(text, schema)
    if not errors:
        return FinalOutput(text, data, stripped)
    if conv.invalid_answers >= conv.task.max_retries:
        return Failed(f"output does not match output_schema: {'; '.join(errors)}", partial=text)
    return _reask_after(ctx, conv, errors, site)


def _reask_after(
    ctx: RunContext, conv: Conversation, errors: list[str], site: CallSite
) -> TurnOutcome:
    conv.invalid_answers += 1
    retry = Retry(
        what="output_validation", attempt=conv.invalid_answers + 1, reason="; ".join(errors)
    )
    ctx.sink.emit(retry, site)
    schema = conv.task.output_schema is not None
    conv.add(Message(role="user", content=_reask(errors, schema=schema)))
    return RunAgain("invalid output")


def parse_output(text: str, schema: dict[str, Any]) -> tuple[Any, list[str], str | None]:
    """The answer as JSON (found inside a <think> block's aftermath, a fence or prose), what is
    wrong with it under the schema (empty when valid), and what was stripped around it."""
    found, stripped = extract_json(text)
    try:
        data = fix_value(loads(found))  # "\ud800" in the JSON: a lone surrogate
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        return None, [f"the answer is not JSON ({where})"], stripped
    except RecursionError:
        return None, ["the answer is JSON nested too deeply to read"], stripped
    if bad := refusal(data):
        return data, [bad], stripped
    validator = schema_validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
    return data, problems, stripped


def _reask(errors: list[str], *, schema: bool = True) -> str:
    listed = "\n".join(f"- {e}" for e in errors)
    if not schema:
        return f"Your answer could not be used:\n{listed}\nAnswer the task again."
    return (
        f"Your answer does not match the required JSON Schema:\n{listed}\n"
        "Answer again with one valid JSON object only."
    )


def _calibrate(conv: Conversation, completion: Completion) -> None:
    """Keep the server's count of the prompt just sent, to learn how it counts: its prompt
    tokens against our tiktoken count, so max_history_tokens holds in the server's tokens (a
    local model's tokenizer and template can count several times more)."""
    usage = completion.usage
    if usage.source == "provider" and usage.input_tokens > 0:
        conv.unsettled = (conv.request, usage.input_tokens)


async def _settle_scale(ctx: RunContext, conv: Conversation) -> bool:
    """Compare the server's count with ours, only when trimming may depend on it; False when
    no scale can make the next prompt need trimming.

    Our count needs the tokenizer, whose build holds the GIL (and so the event loop, every
    task) for a quarter of a second. Without it, the scale is at most the server's count over
    a floor of ours; while the next prompt's bound times that ceiling is within
    max_history_tokens, no scale can make it trim, and nothing is built."""
    if conv.unsettled is None:
        return True
    sent, reported = conv.unsettled
    limit = ctx.crew.spec.limits.max_history_tokens
    ceiling = max(1.0, reported / max(1, prompt_floor(sent)))
    if prompt_bound(conv.request) * ceiling <= limit:
        return False
    conv.unsettled = None
    await tokenizer_ready(sent.model.model)
    counted = prompt_tokens(sent)
    if counted > 0:
        conv.scale = max(1.0, reported / counted)
    return True


def _trim(ctx: RunContext, conv: Conversation) -> None:
    limit = int(ctx.crew.spec.limits.max_history_tokens / conv.scale)
    if prompt_bound(conv.request) <= limit:  # settled without a tokenizer
        return
    before = prompt_tokens(conv.request)
    if before <= limit:
        return

    def count(messages: tuple[Message, ...]) -> int:
        return prompt_tokens(_replace(conv.request, messages=messages))

    trimmed = trimming.trim(conv.request.messages, limit, count)
    if trimmed.dropped:
        conv.request = _replace(conv.request, messages=trimmed.messages)
        event = HistoryTrimmed(
            agent=conv.agent,
            task=conv.task.id,
            turn=conv.turn,
            dropped_messages=trimmed.dropped,
            tokens_before=before,
            tokens_after=count(trimmed.messages),
        )
        ctx.sink.emit(event, conv.span)


def _end(
    ctx: RunContext, conv: Conversation, outcome: FinalOutput | Ended, cancelled: bool = False
) -> TaskOutcome:
    status: TaskStatus
    stripped = None
    if isinstance(outcome, FinalOutput):
        refused = _write_state(ctx, conv, outcome.data)
        stripped = outcome.stripped
        status, reason = ("failed", refused) if refused else ("ok", None)
        result = TaskOutcome(
            conv.task.id, conv.agent, status, outcome.text, outcome.data, reason, turns=conv.turn
        )
    else:
        hit = outcome.hit if isinstance(outcome, Stopped) else None
        status = "cancelled" if cancelled else "stopped" if hit else "failed"
        result = TaskOutcome(
            conv.task.id, conv.agent, status, outcome.partial, None, outcome.reason, hit, conv.turn
        )
    finished = TaskFinished(
        answer_stripped=stripped,
        agent=conv.agent,
        task=conv.task.id,
        status=result.status,
        reason=result.reason,
        turns=conv.turn,
        output_digest=digest(result.output) if result.output is not None else None,
        input_tokens=conv.input_tokens,
        output_tokens=conv.output_tokens,
        duration_s=round(time.monotonic() - conv.started, 6),
    )
    ctx.sink.emit(finished, conv.parent, span=conv.span)
    ctx.outcomes[conv.task.id] = result
    return result


def _write_state(ctx: RunContext, conv: Conversation, data: Any) -> str | None:
    """Write the validated fields named in `writes`, all or none; the refusals, if any."""
    refusals = []
    fields = data if isinstance(data, dict) else {}
    planned = [
        (key, fields.get(name, ABSENT), conv.read_versions.get(key, 0), name)
        for name, key in conv.task.writes.items()
    ]
    results = ctx.state.write_all(planned, conv.task.id)
    for (key, value, read, _name), result in zip(planned, results, strict=True):
        write = StateWrite(
            agent=conv.agent,
            task=conv.task.id,
            key=key,
            value=None if value is ABSENT else value,
            read_version=read,
            version=result.version,
            writer=conv.task.id,
            accepted=result.accepted,
            reason=result.reason,
        )
        ctx.sink.emit(write, conv.span)
        if result.reason and not result.reason.startswith(NOT_WRITTEN):
            refusals.append(f"state write refused: {result.reason}")
    return "; ".join(refusals) or None


def _replace(request: Request, **changes: Any) -> Request:
    return records.replace(request, **changes)
