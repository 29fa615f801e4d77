"""Hierarchical crews: a manager works through the task list by delegating, with guard rails.

The manager's conversation is one task (`manage`) whose prompt holds the crew's goal and its
tasks (in words, and as data for the offline model); the last task's output_schema and writes
apply to the manager's final answer. `delegate` is a tool this module builds and offers to each
agent that may delegate, like any other tool. Each `delegate(agent, instruction)` call is
guarded (count, depth, repeats, ping-pong) instead of counting toward max_tool_calls, recorded
as a `handoff` event, and runs the worker's own agent loop under that span, as the task the
manager named (`research`, answering in that task's output_schema), else as `delegate-N`.
"""

from __future__ import annotations

import string
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mas_cli.engine.agent import run_task
from mas_cli.engine.context import Offered, RunContext
from mas_cli.engine.digests import digest
from mas_cli.events.models import Handoff
from mas_cli.llm.delegation import delegate_tool, task_line
from mas_cli.llm.types import Assignment, CallSite
from mas_cli.spec.models import MANAGER_TASK, TaskSpec
from mas_cli.tools.base import ToolResult
from mas_cli.tools.cache import CachedCall


async def run_hierarchy(ctx: RunContext) -> None:
    """Run the manager to its final answer; delegations happen inside, through `delegate`."""
    spec = ctx.crew.spec
    manager = spec.manager_name
    assert manager is not None, "the loader checks that a hierarchical crew has a manager"
    final = spec.tasks[-1]
    plan = manager_plan(ctx)
    task = TaskSpec(
        id=MANAGER_TASK,
        agent=manager,
        prompt=_literal(manager_prompt(ctx, plan)),
        output_schema=final.output_schema,
        writes=final.writes,
        max_retries=final.max_retries,
    )
    ctx.chains[MANAGER_TASK] = (manager,)
    _offer_delegation(ctx)
    await run_task(ctx, task, plan=plan)


def _offer_delegation(ctx: RunContext) -> None:
    """The delegate tool, offered to every agent that may delegate, with its own workers."""
    spec = ctx.crew.spec
    tasks = [t.id for t in spec.tasks]
    for agent in spec.all_agents():
        if workers := spec.workers_of(agent):
            ctx.offer(agent, Offered(delegate_tool(workers, tasks), _delegation, counted=False))


def manager_plan(ctx: RunContext) -> tuple[Assignment, ...]:
    """The crew's tasks as the manager's list: id, suggested agent, prompt filled in."""
    values = ctx.prompt_values()
    return tuple(
        Assignment(t.id, t.agent or "any", _Lenient().vformat(t.prompt, (), values))
        for t in ctx.crew.spec.tasks
    )


def manager_prompt(ctx: RunContext, plan: tuple[Assignment, ...]) -> str:
    """The crew's goal, then each task of the plan as a line."""
    spec = ctx.crew.spec
    goal = spec.description or spec.name
    return (
        f"Goal: {goal}\n\nTasks, in order (the agent in brackets is a suggestion):\n"
        + "\n".join(map(task_line, plan))
        + "\n\nDelegate the work with the delegate tool. "
        "When every task is done, give the final answer."
    )


async def _delegation(ctx: RunContext, site: CallSite, arguments: dict[str, Any]) -> CachedCall:
    """The delegate tool's runner: a delegation is never cached."""
    return CachedCall(await delegate(ctx, site, arguments), "off")


async def delegate(ctx: RunContext, site: CallSite, arguments: dict[str, Any]) -> ToolResult:
    """Run one delegation: guard it, record the handoff, run the worker, return its answer."""
    worker, instruction = str(arguments.get("agent", "")), str(arguments.get("instruction", ""))
    allowed = ctx.crew.spec.workers_of(site.agent)
    if worker not in allowed or not instruction.strip():
        problem = (
            f"'{worker}' is not an agent you can delegate to"
            if worker not in allowed
            else "empty instruction"
        )
        return ToolResult(
            ok=False,
            output=f"error: {problem}; you can delegate to: {', '.join(allowed)}",
            error=problem,
        )
    chain = (*ctx.chains[site.task], worker)
    hit = ctx.guard.check_delegation(chain, site.task, digest(instruction))
    if hit:
        ctx.limit_hit(hit, site.span)
        return ToolResult(ok=False, output=f"error: {hit.message}", error=hit.message)
    return await _hand_off(ctx, site, chain, instruction, _task(ctx, arguments.get("task")))


def _task(ctx: RunContext, named: Any) -> tuple[str, TaskSpec | None]:
    """The id the delegation runs as: the user's task name when the manager gave one
    (`research`, `research-3` the same task again), else `delegate-N`; and that crew task."""
    number = ctx.guard.delegations
    task = next((t for t in ctx.crew.spec.tasks if t.id == named), None)
    if task is None:
        return f"delegate-{number}", None
    return (task.id if task.id not in ctx.chains else f"{task.id}-{number}"), task


async def _hand_off(
    ctx: RunContext,
    site: CallSite,
    chain: tuple[str, ...],
    instruction: str,
    named: tuple[str, TaskSpec | None],
) -> ToolResult:
    task_id, crew_task = named
    handoff = Handoff(
        from_agent=site.agent,
        to_agent=chain[-1],
        delegation=task_id,
        instruction_digest=digest(instruction),
        depth=len(chain) - 1,
        chain=list(chain),
    )
    span = ctx.sink.emit(handoff, site)
    ctx.chains[task_id] = chain
    started = time.monotonic()
    task = TaskSpec(id=task_id, agent=chain[-1], prompt=_literal(instruction))
    if crew_task is not None:  # the worker answers in the shape the crew file asks of the task
        task = task.model_copy(
            update={"output_schema": crew_task.output_schema, "max_retries": crew_task.max_retries}
        )
    outcome = await run_task(ctx, task, parent=span)
    latency = time.monotonic() - started
    if outcome.status == "ok":
        return ToolResult(ok=True, output=outcome.output or "", latency_s=latency)
    reason = f"{chain[-1]} did not finish ({outcome.status}): {outcome.reason}"
    return ToolResult(ok=False, output=f"error: {reason}", error=reason, latency_s=latency)


def _literal(text: str) -> str:
    """Text used as a prompt template, kept literal: its braces are not placeholders."""
    return text.replace("{", "{{").replace("}", "}}")


class _Lenient(string.Formatter):
    """Fills the placeholders it can; leaves `{name}` as written for the rest."""

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:  # noqa: ARG002
        if isinstance(key, str) and key in kwargs and kwargs[key] is not None:
            return kwargs[key]
        return f"{{{key}}}"

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        root = field_name.split(".", 1)[0]
        value = self.get_value(root, args, kwargs)
        return (
            value if "." not in field_name or not isinstance(value, dict) else f"{{{field_name}}}"
        ), root
