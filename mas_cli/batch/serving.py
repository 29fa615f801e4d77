"""What a worker process of a local batch (`mas batch --workers N`) does: it runs the items the
batch sends it, as the batch's own process does (runner.py), and sends back each item's results
line.

Started as `python -m mas_cli.batch.worker FD` (worker.py): FD is its end of a Unix socket pair
(wire.py). It shares with the other workers, through the batch, the budget (every model attempt
is admitted by the batch's ledger: wire.LinkGate) and the breaker (the batch counts the lines);
it opens the batch's tool cache itself (SQLite in WAL mode: processes share it), starts the
crew's MCP servers once, and takes 1/N of each rate limit, so together the workers never pass
one. When the batch says stop, or goes away (its end of the socket closes), the runs in flight
end `interrupted` and the worker exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from pathlib import Path

from mas_cli.batch.breaker import Probe, signature
from mas_cli.batch.records import dead, result_line
from mas_cli.batch.runner import providers_for, rerun_item
from mas_cli.batch.shares import share
from mas_cli.batch.wire import Link, LinkGate, Message, receive, send
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.providers import close
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.engine.run import RunOptions
from mas_cli.engine.shared import Shared
from mas_cli.errors import MasError
from mas_cli.llm.keys import crew_secrets
from mas_cli.records import replace
from mas_cli.spec.loader import Crew, load_crew
from mas_cli.tools import load_tools, scrubbed
from mas_cli.tools.cache import ToolCache, cache_dir
from mas_cli.tools.mcp import open_servers


async def serve(fd: int) -> None:
    """Run items until the batch says end (or goes away)."""
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))
    setup = await receive(reader)
    if setup is None or setup.get("op") != "setup":
        return
    crew = load_crew(Path(setup["crew"]))
    home, workers = Path(setup["home"]), int(setup["workers"])
    limiter = None if setup["offline"] else RateLimiter.for_crew(share(crew.spec, workers))
    providers = None if setup["offline"] else providers_for(crew)
    link = Link(writer)
    try:
        with ToolCache(cache_dir(home)) as cache:
            async with open_servers(crew, shared=True) as servers:
                tools, mcp = load_tools(crew), scrubbed(crew, servers.tools)
                stop = asyncio.Event()
                shared = Shared(
                    None, limiter, cache, stop, providers, tools, mcp, crew_secrets(crew.spec)
                )
                gate = LinkGate(link, budget=bool(setup["budget"]))
                shared = replace(shared, batch_id=setup["batch_id"], gate=gate)
                send(writer, {"op": "ready"})
                await _listen(reader, link, _Runner(crew, home, bool(setup["offline"]), shared))
    finally:
        if providers is not None:
            await close(providers)
        writer.close()


class _Runner:
    """The items in flight in this worker."""

    def __init__(self, crew: Crew, home: Path, offline: bool, shared: Shared) -> None:
        self.crew, self.home, self.offline, self.shared = crew, home, offline, shared
        assert isinstance(shared.gate, LinkGate)
        self.gate = shared.gate
        self.running: set[asyncio.Task[None]] = set()

    def start(self, link: Link, message: Message) -> None:
        task = asyncio.create_task(self._run(link, message))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _run(self, link: Link, message: Message) -> None:
        key, probe = message["key"], Probe()
        shared = replace(self.shared, item_key=key)
        options = RunOptions(self.home, message["inputs"], self.offline, (probe,), shared=shared)
        try:
            result: RunResult | str = await rerun_item(self.crew, options, message["earlier"])
        except MasError as exc:  # refused before it ran (a tool that won't load)
            result = str(exc)
        line = result_line(self.crew.spec, key, result, probe)
        how = signature(probe, line["error"])
        done = {"op": "done", "key": key, "line": line, "how": how, "dead": dead(result)}
        link.tell({**done, "spent": self.gate.spent()})


async def _listen(reader: asyncio.StreamReader, link: Link, runner: _Runner) -> None:
    stop = runner.shared.stop
    assert stop is not None
    while (message := await receive(reader)) is not None:
        op = message.get("op")
        if op == "item":
            runner.start(link, message)
        elif op == "grant":
            link.answered(message)
        elif op == "stop":
            stop.set()
        elif op == "end":
            break
    else:  # the batch is gone: nobody to report to; end the runs as a Ctrl-C would
        stop.set()
        link.lost()
    if runner.running:
        await asyncio.gather(*runner.running, return_exceptions=True)
    with contextlib.suppress(ConnectionError):  # the batch is gone: its lines have no reader
        await link.writer.drain()


def run(argv: list[str]) -> int:
    """The worker's work: exit 0 when the batch ended it, 1 when it could not start."""
    try:
        asyncio.run(serve(int(argv[0])))
    except MasError as exc:
        sys.stderr.write(f"batch worker: {exc}\n")
        return 1
    return 0
