"""`mas runs` and `mas show`: read run logs back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mas_cli.cli.actions.batches import chosen_batch
from mas_cli.cli.exits import EXIT_OK

if TYPE_CHECKING:
    from datetime import datetime


def runs(
    *,
    home: Path | None,
    limit: int,
    crew: str | None,
    status: str | None,
    since: str | None,
    json_out: bool,
    batch: str | None,
    last_batch: bool,
    batches: bool,
) -> int:
    """List recent runs, or a batch's items, or the batches."""
    if batches or batch or last_batch:
        _batch_runs(home, batch, last_batch, json_out=json_out)
        return EXIT_OK
    from mas_cli.cli import render
    from mas_cli.cli.render.plain import eprint
    from mas_cli.cli.render.runs import runs_table
    from mas_cli.events.runs import RunFilter, select_runs
    from mas_cli.events.store import home_dir, runs_dir
    from mas_cli.records import asdict

    if limit < 1:
        from mas_cli.errors import UsageError

        raise UsageError(f"--limit {limit} lists no run", hint="give 1 or more, e.g. --limit 50")
    where = RunFilter(crew, _status(status), _since(since))
    rows, crews = select_runs(home_dir(home), where, limit)
    if crew and crew not in crews and crews and not since:
        unknown_crew(crew, crews)
    if json_out:
        render.json_out([asdict(r) for r in rows])
    elif not rows:
        eprint(_nothing(runs_dir(home_dir(home)), crews, since, crew or status))
    else:
        runs_table(rows)
    return EXIT_OK


def _batch_runs(home: Path | None, ref: str | None, last: bool, *, json_out: bool) -> None:
    from mas_cli.cli import render
    from mas_cli.cli.render import batch as draw

    view = chosen_batch(home, ref, last)
    if view is None:
        from mas_cli.batch.report import list_batches
        from mas_cli.events.store import home_dir

        rows = list_batches(home_dir(home))
        render.json_out(rows) if json_out else draw.batches_table(rows)
    elif json_out:
        render.json_out([item.__dict__ for item in view.items])
    else:
        draw.items_table(view)


def _since(since: str | None) -> datetime | None:
    if not since:
        return None
    from mas_cli.cost.history import parse_since  # only when asked: its date parsing

    return parse_since(since)


def _status(status: str | None) -> str | None:
    from mas_cli.events.runs import STATUSES

    if status is None or status in STATUSES:
        return status
    from mas_cli.errors import UsageError
    from mas_cli.spec.findings import did_you_mean  # only for a mistake: it loads PyYAML

    hint = did_you_mean(status, STATUSES) or f"one of: {', '.join(STATUSES)}"
    raise UsageError(f"--status {status!r} is not a run status", hint=hint)


def unknown_crew(crew: str, crews: set[str]) -> None:
    from mas_cli.errors import UsageError
    from mas_cli.spec.findings import did_you_mean

    known = ", ".join(sorted(crews))
    hint = did_you_mean(crew, crews) or f"crews with runs here: {known}"
    raise UsageError(f"no runs of crew {crew!r}", hint=hint)


def _nothing(folder: Path, crews: set[str], since: str | None, other: str | None) -> str:
    if since and not other:  # the runs before it were never read: `crews` cannot tell
        return f"no runs since {since} (mas runs without --since lists every run)"
    if not crews and not since:
        return f"no runs under {folder} yet: try mas run crews/fraud-review/crew.yaml --offline"
    return "no runs match these filters (mas runs without them lists every run)"


def show(
    *,
    run: str | None,
    last: bool,
    home: Path | None,
    full: bool,
    json_out: bool,
    batch: str | None,
    last_batch: bool,
) -> int:
    """Draw a run as a tree, or a batch's overview."""
    from mas_cli.cli import render
    from mas_cli.cli.render.runs import run_tree as draw
    from mas_cli.cli.render.runs import tree_json
    from mas_cli.errors import UsageError
    from mas_cli.events.runs import run_tree
    from mas_cli.events.store import home_dir, resolve_log
    from mas_cli.events.transcript import read_transcript

    if run is not None and run.startswith("b-") and batch is None:
        batch = run  # batch ids start with b-, run ids with a date
    view = chosen_batch(home, batch, last_batch)
    if view is not None:
        from mas_cli.cli.render.batch import overview

        render.json_out(view.to_json()) if json_out else overview(view)
        return EXIT_OK
    if run is None and not last:
        raise UsageError("name a run", hint="mas show RUN_ID, or mas show --last")
    log = resolve_log(home_dir(home), run, last)
    words = read_transcript(log) if full else None
    if json_out:
        render.json_out(tree_json(run_tree(log), words))
    else:
        draw(run_tree(log), words)
    return EXIT_OK
