"""The Temporal side of `mas batch` (`--engine temporal`), `mas batch status ID`, the re-attach
of `mas resume BATCH_ID`, and `mas worker`: options, then a call into mas_cli.fleet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from mas_cli.cli.options import EXIT_INTERRUPTED, EXIT_OK, HomeOption
from mas_cli.errors import UsageError

if TYPE_CHECKING:
    from mas_cli.batch.runner import BatchOptions, BatchResult, Progress
    from mas_cli.fleet.connect import Where
    from mas_cli.spec.loader import Crew

ENGINES = ("local", "temporal")
Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="local: in this process. temporal: on the workers of a Temporal service "
        "(mas worker on each machine).",
    ),
]
Address = Annotated[
    str,
    typer.Option("--address", help="Temporal's HOST:PORT (engine temporal).", show_default=True),
]
Namespace = Annotated[str, typer.Option("--namespace", help="Temporal namespace.")]
TaskQueue = Annotated[
    str | None,
    typer.Option(
        "--task-queue", help="The task queue the workers poll (default: mas-<crew name>)."
    ),
]
Detach = Annotated[
    bool,
    typer.Option(
        "--detach", help="Submit and return; follow later with mas resume BATCH_ID (temporal)."
    ),
]


def engine_of(engine: str) -> str:
    """The engine named, checked; temporal needs its extra installed."""
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r}: not an engine", hint="local or temporal")
    if engine == "temporal":
        from mas_cli.fleet.connect import require_temporal

        require_temporal()
    return engine


def where(address: str, namespace: str, task_queue: str | None) -> Where:
    from mas_cli.fleet.connect import Where

    return Where(address, namespace, task_queue)


def submit(
    crew: Crew, options: BatchOptions, at: Where, progress: Progress, *, detach: bool
) -> BatchResult:
    """Run the batch on Temporal; Ctrl-C detaches (exit 130, the batch runs on)."""
    from mas_cli.fleet.submit import Detached, submit_batch

    try:
        return submit_batch(crew, options, at, progress, detach=detach)
    except Detached as left:
        _left(left.batch_id)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def attach(path: Path, progress: Progress) -> BatchResult:
    """Follow a Temporal batch again to its end (`mas resume BATCH_ID`)."""
    from mas_cli.fleet.submit import Detached, attach_batch

    try:
        return attach_batch(path, progress)
    except Detached as left:
        _left(left.batch_id)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def running(result: BatchResult) -> None:
    """A detached batch: where to follow it."""
    from mas_cli.cli import render

    render.stderr.print(f"batch {result.batch_id} submitted; it runs on the workers")
    if result.reason:  # a batch too big to feed at once
        render.stderr.print(result.reason)
    _detached(result.batch_id)
    raise typer.Exit(EXIT_OK)


def _left(batch_id: str) -> None:
    """Ctrl-C or SIGTERM while following: the workflow is not stopped, and says so."""
    from mas_cli.cli import render

    render.stderr.print(f"detached: batch {batch_id} runs on, on the workers")
    _detached(batch_id)


def _detached(batch_id: str) -> None:
    from mas_cli.cli import render

    render.stderr.print(
        f"follow it with: mas resume {batch_id} · see it with: mas batch status {batch_id}"
    )


def status(home: Path | None, ref: str, *, as_json: bool) -> None:
    """`mas batch status ID`: how a batch stands; a Temporal batch's ended items are written
    into the home on the way (as a re-attach would)."""
    from mas_cli.batch.folder import BatchStatus, live_status, read_info, resolve_batch
    from mas_cli.batch.runner import BatchResult
    from mas_cli.batch.start import tally_of
    from mas_cli.cli.render.batch import batch_result
    from mas_cli.events.store import home_dir

    path = resolve_batch(home_dir(home), ref)
    info = read_info(path)
    if info.get("engine") == "temporal":
        engine_of("temporal")
        from mas_cli.fleet.status import fleet_status

        result = fleet_status(path)
    else:
        state = live_status(info, path)
        shown: BatchStatus = "interrupted"
        if state in ("running", "finished", "stopped"):
            shown = cast(BatchStatus, state)
        reason = info.get("reason") if state != "killed" else "killed: finish it with mas resume"
        result = BatchResult(path.name, path, shown, reason, tally_of(path))
    batch_result(result, as_json=as_json)


def worker(
    crew: Annotated[Path, typer.Argument(help="The crew file.", show_default=False)],
    engine: Engine = "temporal",
    address: Address = "127.0.0.1:7233",
    namespace: Namespace = "default",
    task_queue: TaskQueue = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=1000, help="Items run at once here.")
    ] = 4,
    home: HomeOption = None,
) -> None:
    """Run the items of batches on Temporal (mas batch --engine temporal) on this machine.

    Keys come from this machine's environment and never leave it. Stop with Ctrl-C or
    SIGTERM: items in flight are resumed on another worker.
    """
    import asyncio

    from mas_cli.cli import render
    from mas_cli.events.store import home_dir
    from mas_cli.spec.loader import load_crew

    if engine_of(engine) != "temporal":
        raise UsageError("mas worker runs items of a Temporal batch", hint="--engine temporal")
    loaded = load_crew(crew)
    at = where(address, namespace, task_queue)
    queue = at.queue(loaded.spec.name)
    render.stderr.print(
        f"worker for crew {loaded.spec.name} on {address} ({namespace}), task queue {queue}"
    )
    asyncio.run(_serve(loaded, at, home_dir(home), queue, concurrency))


async def _serve(crew: Crew, at: Where, home: Path, queue: str, concurrency: int) -> None:
    from mas_cli.fleet.connect import connect
    from mas_cli.fleet.worker import serve

    client = await connect(at)
    await serve(client, crew, home, queue, concurrency)
