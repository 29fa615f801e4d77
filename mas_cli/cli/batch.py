"""`mas batch CREW --inputs ITEMS` and `mas resume BATCH_ID`: a crew over many items."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mas_cli.cli import fleet
from mas_cli.cli.options import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_LIMIT, EXIT_OK, HomeOption
from mas_cli.errors import UsageError

if TYPE_CHECKING:
    from mas_cli.batch.runner import BatchResult, Progress

DEFAULT_ADDRESS = "127.0.0.1:7233"  # `temporal server start-dev` (fleet.connect.DEFAULT_ADDRESS)

Concurrency = Annotated[
    int, typer.Option("--concurrency", "-c", min=1, max=1000, help="Items run at once.")
]
MaxCost = Annotated[
    float | None,
    typer.Option(
        "--max-cost-usd", min=0, help="The batch's budget in dollars, all items together."
    ),
]
MaxCalls = Annotated[
    int | None,
    typer.Option("--max-llm-calls", min=0, help="The batch's model calls, all items together."),
]
MaxTokens = Annotated[
    int | None,
    typer.Option("--max-tokens", min=0, help="The batch's tokens, all items together."),
]
Breaker = Annotated[
    int,
    typer.Option(
        "--breaker",
        min=0,
        help="Stop the batch when this many items in a row fail the same way (0: never).",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        max=64,
        help="Processes the items run in, --concurrency over them all (default: one per core, "
        "up to 4, for 1,000 items or more, else 1).",
        show_default=False,
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the batch's figures on stdout.")]


def batch(
    crew: Annotated[
        Path,
        typer.Argument(
            help="The crew file (or `status`, then a batch id: mas batch status BATCH_ID).",
            show_default=False,
        ),
    ],
    ref: Annotated[
        str | None,
        typer.Argument(help="With status: the batch id.", show_default=False),
    ] = None,
    items: Annotated[
        Path | None,
        typer.Option(
            "--inputs",
            metavar="ITEMS.jsonl",
            help="The items: .jsonl (one JSON object of inputs a line) or .csv (a header of "
            "input names). A batch's dead.jsonl can be fed back as it is.",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The field that keys each item (default: a digest of it)."),
    ] = None,
    concurrency: Concurrency = 4,
    offline: Annotated[
        bool, typer.Option("--offline", help="The offline model for every agent.")
    ] = False,
    max_cost_usd: MaxCost = None,
    max_llm_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    breaker: Breaker = 5,
    workers: Workers = None,
    engine: fleet.Engine = "local",
    address: fleet.Address = DEFAULT_ADDRESS,
    namespace: fleet.Namespace = "default",
    task_queue: fleet.TaskQueue = None,
    detach: fleet.Detach = False,
    home: HomeOption = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Run a crew once per item, many at once, under one budget; see the batch with mas runs.

    With --engine temporal the items run on `mas worker` processes anywhere, under one budget
    and one set of rate limits for them all. `mas batch status BATCH_ID` shows how a batch
    stands.

    Exit 0 every item ok, 1 some failed or were unreadable, 2 bad crew or items file, 3 stopped by
    the batch's budget or breaker, 130 interrupted (finish it with mas resume BATCH_ID).
    """
    from mas_cli.batch.runner import BatchOptions
    from mas_cli.batch.start import auto_workers, start_batch
    from mas_cli.cli import render
    from mas_cli.cli.render.batch import BatchProgress
    from mas_cli.events.store import home_dir
    from mas_cli.spec.loader import load_crew

    if str(crew) == "status" and not crew.is_file():
        if ref is None:
            raise UsageError("name the batch", hint="mas batch status BATCH_ID")
        fleet.status(home, ref, as_json=json_out)
        return
    if ref is not None:
        raise UsageError(f"unexpected argument {ref!r}", hint="mas batch CREW --inputs ITEMS")
    if items is None:
        raise UsageError("give the items with --inputs", hint="mas batch CREW --inputs ITEMS")
    on_temporal = fleet.engine_of(engine) == "temporal"
    if detach and not on_temporal:
        raise UsageError("--detach leaves a batch running on Temporal", hint="--engine temporal")
    loaded = load_crew(crew)
    for warning in loaded.warnings:
        if warning.code != "default-limits":
            render.problem(warning, "warning")
    if workers is not None and on_temporal:
        raise UsageError("--workers is for a local batch", hint="on Temporal, start mas worker")
    options = BatchOptions(
        home_dir(home),
        items,
        concurrency,
        key,
        offline,
        max_cost_usd,
        max_llm_calls,
        max_tokens,
        breaker,
        workers or (1 if on_temporal else auto_workers(items)),
    )
    with BatchProgress(quiet=quiet) as progress:
        if on_temporal:
            at = fleet.where(address, namespace, task_queue)
            result = fleet.submit(loaded, options, at, progress, detach=detach)
        else:
            result = start_batch(loaded, options, progress)
    if result.status == "running":
        fleet.running(result)
    _finish(result, as_json=json_out)


def resume(
    ref: Annotated[str, typer.Argument(help="The batch id (or a unique prefix, or its folder).")],
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, max=1000, help="Items at once.")
    ] = None,
    max_cost_usd: MaxCost = None,
    max_llm_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    home: HomeOption = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Finish a batch after any stop: items done are skipped, the others run again.

    Options given here replace the ones the batch began with (raise a budget, ...).
    """
    from mas_cli.batch.folder import is_batch
    from mas_cli.cli.render.batch import BatchProgress
    from mas_cli.events.store import home_dir

    where = home_dir(home)
    if not is_batch(where, ref):
        raise UsageError(
            f"'{ref}' names no batch under {where}",
            hint="batch ids start with b- (see them with mas runs --batches)",
        )
    changes = {
        "concurrency": concurrency,
        "max_cost_usd": max_cost_usd,
        "max_llm_calls": max_llm_calls,
        "max_tokens": max_tokens,
    }
    with BatchProgress(quiet=quiet) as progress:
        result = _resume_or_attach(where, ref, progress, changes)
    _finish(result, as_json=json_out)


def _resume_or_attach(
    home: Path, ref: str, progress: Progress, changes: dict[str, Any]
) -> BatchResult:
    """A local batch runs again; a Temporal batch is followed again (it never stopped)."""
    from mas_cli.batch.folder import read_info, resolve_batch
    from mas_cli.batch.start import resume_batch

    path = resolve_batch(home, ref)
    if read_info(path).get("engine") != "temporal":
        return resume_batch(home, ref, progress, **changes)
    fleet.engine_of("temporal")
    if any(value is not None for value in changes.values()):
        raise UsageError(
            "a batch on Temporal keeps the options it began with",
            hint=f"mas resume {path.name} (without --concurrency or budget options)",
        )
    return fleet.attach(path, progress)


def _finish(result: BatchResult, *, as_json: bool) -> None:
    from mas_cli.cli.render.batch import batch_result

    batch_result(result, as_json=as_json)
    raise typer.Exit(_exit_code(result))


def _exit_code(result: BatchResult) -> int:
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    if result.status == "stopped":
        return EXIT_LIMIT
    tally = result.tally
    return EXIT_FAILURE if tally.failed or tally.stopped or tally.dead else EXIT_OK


BatchOption = Annotated[
    str | None,
    typer.Option(
        "--batch",
        metavar="BATCH_ID",
        help="The runs of this batch (its id, a unique prefix, or its folder).",
        show_default=False,
    ),
]
LastBatchOption = Annotated[
    bool, typer.Option("--last-batch", help="The runs of the most recent batch.")
]
