"""On a resume, a task that ended ok in the run continued is not run again: its output and its
state writes are carried over, when its prompt is still the one it ran with (a task whose
prompt changed, through the crew file or an upstream task's new output, runs again)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mas_cli.engine.agent import parse_output
from mas_cli.engine.context import RunContext
from mas_cli.engine.digests import digest
from mas_cli.engine.outcomes import TaskOutcome
from mas_cli.engine.prompts import task_prompt
from mas_cli.engine.replayer import skip_scripted
from mas_cli.events.models import StateWrite, TaskFinished
from mas_cli.llm.registry import provider_key

if TYPE_CHECKING:  # a run that resumes nothing reads no earlier run: origin loads for a resume
    from mas_cli.engine.origin import Carried


def carry(ctx: RunContext, task_id: str) -> TaskOutcome | None:
    """The task's outcome carried over from the run resumed, or None when it must run."""
    if ctx.resume is None:
        return None
    done = ctx.resume.origin.carried.get(task_id)
    task = ctx.crew.spec.task(task_id)
    if done is None or done.agent != task.agent or done.output is None:
        return None
    if digest(task_prompt(task, ctx.prompt_values())) != done.prompt_digest:
        return None
    data = _data(done, task.output_schema)
    if data is _INVALID:
        return None
    _restore_writes(ctx, done)
    outcome = TaskOutcome(task_id, done.agent, "ok", done.output, data, turns=done.turns)
    ctx.outcomes[task_id] = outcome
    _emit_carried(ctx, done, data)
    model = ctx.models[ctx.crew.spec.agent(done.agent or "").model]
    skip_scripted(ctx.providers[provider_key(model)], done.agent or "", done.turns)
    return outcome


def _emit_carried(ctx: RunContext, done: Carried, data: Any) -> None:
    """The task's task_finished in this run: carried over, with its output for a later resume."""
    assert ctx.resume is not None
    assert done.output is not None
    finished = TaskFinished(
        agent=done.agent,
        task=done.task,
        status="ok",
        turns=done.turns,
        output_digest=digest(done.output),
        carried_from=ctx.resume.origin.run_id,
        output=done.output,
        data=data,
    )
    ctx.sink.emit(finished, ctx.run_span)


_INVALID = object()


def _data(done: Carried, schema: dict[str, Any] | None) -> Any:
    """The task's JSON output: as recorded, else parsed again; _INVALID when it no longer
    fits the task's output_schema (the schema changed: the task runs again)."""
    if schema is None or done.output is None:
        return done.data
    data, errors, _stripped = parse_output(done.output, schema)
    return _INVALID if errors else data


def _restore_writes(ctx: RunContext, done: Carried) -> None:
    """Write the task's accepted state writes again, in their order, as this run's."""
    for key, value in done.writes:
        read = ctx.state.get(key).version if key in ctx.state.versions() else 0
        result = ctx.state.write(key, value, read, done.task)
        write = StateWrite(
            agent=done.agent,
            task=done.task,
            key=key,
            value=value,
            read_version=read,
            version=result.version,
            writer=done.task,
            accepted=result.accepted,
            reason=result.reason,
        )
        ctx.sink.emit(write, ctx.run_span)
