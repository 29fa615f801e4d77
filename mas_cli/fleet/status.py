"""`mas batch status ID` for a batch on Temporal: the items ended so far written into the
home (as a re-attach writes them), and the counts; a batch whose workflow has ended gets its
batch.json finished too."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from mas_cli.batch.folder import BatchFolder, read_info
from mas_cli.batch.runner import BatchResult
from mas_cli.batch.start import tally_of
from mas_cli.fleet.connect import Where, connect
from mas_cli.fleet.feed import Unanswered, workflow_state
from mas_cli.fleet.follow import Books, follow
from mas_cli.fleet.messages import Status
from mas_cli.fleet.submit import lost_service


def fleet_status(path: Path) -> BatchResult:
    """How the batch stands, its ended items recorded.

    Raises:
        UsageError: the service cannot be reached.
    """
    with lost_service(path.name):
        return asyncio.run(_status(path))


async def _status(path: Path) -> BatchResult:
    info = read_info(path)
    client = await connect(Where(**info.get("temporal", {})))
    handle = client.get_workflow_handle(path.name, result_type=Status)
    unanswered: Unanswered | None = None
    try:
        state = await workflow_state(handle, info)
    except Unanswered as exc:  # running: what ended is in the history all the same
        state, unanswered = Status(), exc
    with BatchFolder(path) as folder:
        tally = tally_of(path)
        result = await follow(
            client, handle, Books(folder, info, tally, lambda _t: None), wait=state is None
        )
    if unanswered is not None:
        return replace(result, reason=str(unanswered))
    if state is not None:
        tally.in_flight = state.running
        tally.cost_usd = state.cost_usd
    return result
