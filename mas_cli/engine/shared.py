"""What a run may share with other runs in the same process: the seam a batch runs through.

A run given none of these makes its own (a rate limiter from its crew, a tool cache in its
home, its own signal handlers) and has no budget but its crew's. Given them, it uses them as
they are and closes none of them: their owner does. The engine never asks who that is.
"""

from __future__ import annotations

import asyncio

from msgspec import Struct

from mas_cli.engine.gate import Gate
from mas_cli.engine.ledger import Ledger
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.llm.types import Provider
from mas_cli.redact import Secrets
from mas_cli.tools.base import Tool
from mas_cli.tools.cache import ToolCache


class Shared(Struct, frozen=True):
    """Parts a run takes from outside instead of making its own."""

    ledger: Ledger | None = None
    """A budget over many runs, asked after the run's own limits (see engine/ledger.py)."""
    limiter: RateLimiter | None = None
    """Rate-limit buckets over many runs; None: the run makes its own from its crew."""
    cache: ToolCache | None = None
    """An open tool cache; None: the run opens the one in its home."""
    stop: asyncio.Event | None = None
    """Set by the owner to interrupt the run; the run then installs no signal handlers."""
    providers: dict[str, Provider] | None = None
    """Open clients for the crew's models (one per endpoint), kept open across runs: a client
    per run costs its connection pool and TLS set-up each time. Never the offline provider,
    whose scripts count turns per run."""
    tools: dict[str, Tool] | None = None
    """The crew's tools, loaded once for many runs; None: the run loads its own."""
    mcp: dict[str, Tool] | None = None
    """The tools of the crew's MCP servers, started once for many runs (and restarted by
    their owner when one dies); None: the run starts its own and closes them at its end."""
    secrets: Secrets | None = None
    """The crew's secrets (llm.keys.crew_secrets), gathered once for many runs; None: the run
    gathers its own (reading the whole environment)."""
    batch_id: str | None = None
    """run_started's batch_id: the batch the run is an item of."""
    item_key: str | None = None
    """run_started's item_key: the item's key in that batch."""
    gate: Gate | None = None
    """Asked before and told after every model call, told after every side effect: a budget
    and rate limits shared beyond this process (see engine/gate.py)."""
