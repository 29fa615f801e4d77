"""Task scheduling: a task starts when every task it waits for has finished well.

Sequential crews wait for every earlier task, one at a time; parallel crews follow depends_on,
up to max_concurrency at once. A task whose dependency did not end `ok` is skipped, saying why.
Hierarchical crews run their manager, who delegates (see engine.hierarchy).
"""

from __future__ import annotations

import asyncio
from typing import Any

from mas_cli.engine.agent import run_task
from mas_cli.engine.context import RunContext
from mas_cli.engine.hierarchy import run_hierarchy
from mas_cli.engine.outcomes import TaskOutcome
from mas_cli.events.models import TaskFinished
from mas_cli.spec import graph


async def run_tasks(ctx: RunContext) -> None:
    """Run the crew; outcomes land in ctx.outcomes. Winds down when ctx.stop is set."""
    hierarchical = ctx.crew.spec.process == "hierarchical"
    jobs = [asyncio.create_task(run_hierarchy(ctx))] if hierarchical else _graph_jobs(ctx)
    await _supervise(ctx, jobs)
    if not hierarchical:
        _skip_unstarted(ctx)


def _graph_jobs(ctx: RunContext) -> list[asyncio.Task[None]]:
    spec = ctx.crew.spec
    deps = graph.edges(spec)
    gate = asyncio.Semaphore(spec.limits.max_concurrency if spec.process == "parallel" else 1)
    done = {t.id: asyncio.get_running_loop().create_future() for t in spec.tasks}
    return [
        asyncio.create_task(_task(ctx, t.id, deps[t.id], done, gate), name=t.id) for t in spec.tasks
    ]


async def _supervise(ctx: RunContext, jobs: list[asyncio.Task[None]]) -> None:
    """Wait for the jobs, or for the stop event; then cancel what is left and wait for it."""
    stopper = asyncio.ensure_future(ctx.stop.wait())
    everything = asyncio.gather(*jobs)
    try:
        watched: list[asyncio.Future[Any]] = [stopper, everything]
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if everything.done():
            everything.result()  # a bug inside a task surfaces here, not silently
    finally:
        for job in [*jobs, stopper]:
            job.cancel()
        # Wait for every job itself: the gather above ends at the first cancelled one, while
        # others may still be writing their task_finished events.
        await asyncio.gather(*jobs, stopper, return_exceptions=True)
        await asyncio.gather(everything, return_exceptions=True)


async def _task(
    ctx: RunContext,
    task_id: str,
    waits_for: list[str],
    done: dict[str, asyncio.Future[TaskOutcome]],
    gate: asyncio.Semaphore,
) -> None:
    for dep in waits_for:
        outcome = await done[dep]
        if outcome.status != "ok":
            done[task_id].set_result(
                _skip(ctx, task_id, f"'{dep}' did not finish ({outcome.status})")
            )
            return
    async with gate:
        if ctx.run_hit:  # the run winds down: tasks not yet started never start
            done[task_id].set_result(_skip(ctx, task_id, ctx.run_hit.message))
            return
        result = await run_task(ctx, ctx.crew.spec.task(task_id))
    done[task_id].set_result(result)


def _skip(ctx: RunContext, task_id: str, reason: str) -> TaskOutcome:
    task = ctx.crew.spec.task(task_id)
    outcome = TaskOutcome(task_id, task.agent, "skipped", reason=reason)
    ctx.outcomes[task_id] = outcome
    skipped = TaskFinished(agent=task.agent, task=task_id, status="skipped", reason=reason)
    ctx.sink.emit(skipped, ctx.run_span)
    return outcome


def _skip_unstarted(ctx: RunContext) -> None:
    reason = ctx.run_hit.message if ctx.run_hit else "the run was stopped"
    for task in ctx.crew.spec.tasks:
        if task.id not in ctx.outcomes:
            _skip(ctx, task.id, reason)
