"""A resumed run's model calls answered from the recording of the run it continues.

In a task that runs again, each request identical to one recorded for the same agent, task and
turn gets the recorded answer: no provider is called, nothing is spent, and its `llm_call`
event says `replayed: true` with cost 0. The first request that differs (a changed prompt, a
lower limit, a tool that answered otherwise) ends the replay for that task: from there it runs
live. Replayed answers are written to the new run's llm.jsonl too, so a resume of the resumed
run finds them there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mas_cli.engine.context import RunContext
from mas_cli.engine.digests import digest
from mas_cli.engine.effects import Completed, Effects
from mas_cli.events.models import LlmCall
from mas_cli.events.spend import Spend
from mas_cli.llm.recording import LlmLog
from mas_cli.llm.registry import provider_key
from mas_cli.llm.types import Completion, Provider, Request

if TYPE_CHECKING:  # a run that resumes nothing reads no earlier run: origin loads for a resume
    from mas_cli.engine.origin import Origin


def replayed_call(ctx: RunContext, request: Request) -> Completion | None:
    """The recorded answer, logged as a replayed llm_call; None when the call must be made.

    A replayed call spends nothing, so only max_turns (how the task behaves, not what it
    costs) is checked; a turn past it is left to the guard, which stops the task.
    """
    if ctx.resume is None or ctx.run_hit:
        return None
    site = request.site
    if ctx.guard.turn_limit(site.agent, site.task, site.turn):
        return None
    completion = ctx.resume.answer(request)
    if completion is None:
        return None
    _emit(ctx, request, completion)
    ctx.resume.record(request, completion)
    skip_scripted(ctx.providers[provider_key(request.model)], site.agent, 1)
    return completion


def _emit(ctx: RunContext, request: Request, completion: Completion) -> None:
    message = completion.message
    call = LlmCall(
        provider=request.model.provider,
        model=request.model.model,
        cost_usd=0.0,
        status="ok",
        replayed=True,
        response_model=completion.response_model,
        finish_reason=completion.finish_reason,
        tool_calls=[c.name for c in message.tool_calls],
        output_digest=digest(
            [message.content, [(c.name, c.arguments) for c in message.tool_calls]]
        ),
    )
    ctx.sink.emit(call, request.site)


def skip_scripted(provider: Provider, agent: str, turns: int) -> None:
    """An offline script plays on from where the recorded run left it: a turn answered from
    the recording (or a task carried over) is a turn of the script played."""
    inner = getattr(provider, "inner", provider)  # under the recording wrapper
    skip = getattr(inner, "skip_turns", None)
    if callable(skip):
        skip(agent, turns)


def seed(ctx: RunContext, origin: Origin | None, log: LlmLog) -> None:
    """Set a run up to continue `origin`: its side effects done, its spend counted, its
    recording ready to answer (a run that resumes nothing gets its own key root)."""
    if origin is None:
        ctx.effects = Effects(ctx.sink.run_id)
        return
    from mas_cli.engine.origin import Resume

    done = {
        e.key: Completed(e.ok, e.output or "", e.error)
        for e in origin.effects.values()
        if e.completed
    }
    ctx.effects = Effects(origin.root, done)
    ctx.resume = Resume(origin, log)
    spent = origin.spent
    run = spent.run
    ctx.guard.seed(run.llm_calls, run.tokens, run.known_cost, tools=spent.tool_calls())
    for agent in {*spent.agents, *(call[0] for call in spent.tools)}:
        mine = spent.agents.get(agent) or Spend()
        ctx.guard.seed(mine.llm_calls, mine.tokens, mine.known_cost, agent, spent.tool_calls(agent))
