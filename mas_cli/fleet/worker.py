"""`mas worker CREW.yaml --engine temporal`: poll a batch's task queue and run its items here.

Each item is one run, as in the in-process batch (batch.runner.rerun_item), in this worker's
home, with the worker's keys, tools and tool cache; before and after each model call it asks
the batch workflow (fleet/gate.py). A retried item (its worker was lost) first restores what
the lost worker saved and resumes from it. When the item ends its runs are sent back whole in
the activity's result and removed here: the submitter's home is where they are kept.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from mas_cli.batch.breaker import Probe, signature
from mas_cli.batch.runner import dead, rerun_item, result_line
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.providers import build_models, open_providers
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.engine.run import RunOptions
from mas_cli.engine.shared import Shared
from mas_cli.engine.stops import answered
from mas_cli.errors import MasError
from mas_cli.events.models import LlmCall
from mas_cli.events.reader import LogReader
from mas_cli.events.store import EVENTS, runs_dir
from mas_cli.fleet.gate import FleetGate
from mas_cli.fleet.link import Link
from mas_cli.fleet.messages import ACTIVITY, ItemDone, ItemTask, crew_digest
from mas_cli.fleet.runfiles import Tail
from mas_cli.fleet.workflow import HEARTBEAT_S, BatchWorkflow
from mas_cli.llm.types import Provider
from mas_cli.spec.loader import Crew
from mas_cli.tools import load_tools
from mas_cli.tools.base import Tool
from mas_cli.tools.cache import ToolCache


@dataclass
class ItemRunner:
    """What this worker's runs share: the crew, its tools, the tool cache, the clients."""

    crew: Crew
    home: Path
    cache: ToolCache
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tools: dict[str, Tool] = field(init=False)
    providers: dict[str, Provider] | None = None
    limiter: RateLimiter | None = field(init=False)
    links: dict[str, Link] = field(default_factory=dict)
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        self.tools = load_tools(self.crew)
        self.limiter = RateLimiter.for_crew(self.crew.spec)
        self.digest = crew_digest(self.crew.spec.model_dump(mode="json"))

    @activity.defn(name=ACTIVITY)
    async def run_item(self, task: ItemTask) -> ItemDone:
        """Run one item (resuming what a lost worker saved of it) and send its runs back."""
        if task.crew != self.crew.spec.name:
            raise ApplicationError(
                f"this worker runs crew {self.crew.spec.name!r}, the item is of {task.crew!r}"
            )
        if task.crew_digest and task.crew_digest != self.digest:
            raise ApplicationError(
                f"the worker at {socket.gethostname()} runs {self.crew.path} (crew "
                f"{self.crew.spec.name}, digest {self.digest}), which differs from the crew "
                f"batch {task.batch_id} was submitted with (digest {task.crew_digest}): give "
                "every worker the crew file the batch was submitted with, and restart it"
            )
        info = activity.info()
        limiter = None if task.offline else self.limiter
        gate = FleetGate(
            self._link(info.workflow_id or ""), task.key, info.attempt, Tail(self.home), limiter
        )
        probe = Probe()
        beat = asyncio.create_task(_heartbeat())
        try:
            result = await self._run(task, gate, probe, limiter)
        finally:
            beat.cancel()
        restored = _restored_cost(self.home, gate.tail.runs[:-1] if gate.tail.runs else [])
        probe.cost_usd += restored
        line = result_line(self.crew.spec, task.key, result, probe)
        how = signature(probe, line["error"])
        runs = gate.tail.folders(remove=True)
        return ItemDone(line, dead(result), how, task.inputs, runs)

    async def _run(
        self, task: ItemTask, gate: FleetGate, probe: Probe, limiter: RateLimiter | None
    ) -> RunResult | str:
        try:
            earlier = await gate.recover() if activity.info().attempt > 1 else None
            shared = Shared(
                limiter=limiter,
                cache=self.cache,
                stop=self.stop,
                providers=self._providers(task),
                tools=self.tools,
                batch_id=task.batch_id,
                item_key=task.key,
                gate=gate,
            )
            options = RunOptions(self.home, task.inputs, task.offline, (probe, gate), shared=shared)
            return await rerun_item(self.crew, options, earlier)
        except MasError as exc:  # refused before it ran (a key not set), or given up on
            return str(exc)

    def _link(self, workflow_id: str) -> Link:
        """The one line to this batch's workflow that every item of it here shares."""
        if workflow_id not in self.links:
            handle = activity.client().get_workflow_handle(workflow_id)
            self.links[workflow_id] = Link(handle)
        return self.links[workflow_id]

    def _providers(self, task: ItemTask) -> dict[str, Provider] | None:
        """One client per endpoint for every item, opened at the first item that needs one."""
        if task.offline:
            return None
        if self.providers is None:
            models = build_models(self.crew.spec, offline=False)
            self.providers = open_providers(self.crew, models, None)
        return self.providers


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_S / 5)


def _restored_cost(home: Path, runs: list[str]) -> Decimal:
    """What the runs of a lost worker spent (their calls were paid; the resume's are not)."""
    total = Decimal(0)
    for run_id in runs:
        path = runs_dir(home) / run_id / EVENTS
        if path.is_file():
            for event in LogReader(path):
                if isinstance(event, LlmCall):
                    total += Decimal(str(event.cost_usd or 0))
    return total


async def serve(client: Client, crew: Crew, home: Path, task_queue: str, concurrency: int) -> None:
    """Run items from `task_queue` until SIGINT or SIGTERM; the items in flight then are
    given up here and retried on another worker (resuming from what was saved)."""
    from mas_cli.tools.cache import cache_dir

    with ToolCache(cache_dir(home)) as cache:
        runner = ItemRunner(crew, home, cache)
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[BatchWorkflow],
            activities=[runner.run_item],
            max_concurrent_activities=concurrency,
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in answered():
            loop.add_signal_handler(sig, stopping.set)
        async with worker:  # on leaving, items in flight are cancelled: retried elsewhere
            await stopping.wait()
