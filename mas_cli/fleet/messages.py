"""What the submitter, the batch workflow and the workers send each other through Temporal.

Plain dataclasses, JSON on the wire, and every one of them lands in the server's history: none
may hold a key. Items carry the crew's inputs; runs travel as their log files (text a run log
already holds, scrubbed of every known secret), compressed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

WORKFLOW = "mas-batch"
ACTIVITY = "mas-run-item"


@dataclass
class Budget:
    """The batch's limits over every worker (None: none), and what earlier passes spent."""

    max_cost_usd: float | None = None
    max_llm_calls: int | None = None
    max_tokens: int | None = None


@dataclass
class Rate:
    """One `rate_limits:` entry of the crew, held for all workers together."""

    key: str
    rpm: int | None = None
    tpm: int | None = None


@dataclass
class BatchStart:
    """The workflow's input: what the batch is and the limits it runs under."""

    batch_id: str
    crew: str
    concurrency: int
    breaker: int
    offline: bool
    budget: Budget
    rates: list[Rate] = field(default_factory=list)
    continue_at: int = 10_000
    """History events past which the workflow continues as new (fleet/workflow.py)."""
    carry: Carry | None = None
    """What an earlier run of the batch's workflow handed on (None: the first run)."""
    crew_digest: str = ""
    """The crew the batch was submitted with (crew_digest); "" from a batch before it."""


@dataclass
class ItemIn:
    """One item of the items file, as the submitter read it."""

    key: str
    line: int
    inputs: dict[str, Any]


@dataclass
class Page:
    """Items fed to the workflow; `fed` is the last line of the items file read so far, and
    `duplicates` the repeated keys the submitter passed over in it. A page whose `fed` the
    workflow has seen is one sent again: it is taken once."""

    items: list[ItemIn]
    fed: int
    last: bool = False
    duplicates: int = 0
    wait: bool = True
    """Wait for room in the workflow's queue (False: take it now or not at all)."""


@dataclass
class ItemTask:
    """One item for a worker to run."""

    batch_id: str
    crew: str
    key: str
    inputs: dict[str, Any]
    offline: bool
    crew_digest: str = ""
    """The batch's crew (crew_digest): a worker whose crew file differs refuses the item."""


@dataclass
class Ask:
    """A worker's request to make one model attempt: its worst case and the rate keys it uses."""

    item: str
    attempt: int
    lease: str
    tokens: int
    cost: str | None
    rates: list[str]
    planned: int


@dataclass
class Grant:
    """The governor's answer: go, wait `wait_s` and ask again, or refused (a limit, named)."""

    ok: bool
    wait_s: float = 0.0
    kind: str | None = None
    value: float | None = None
    threshold: float | None = None
    superseded: bool = False


@dataclass
class Settle:
    """What an admitted attempt spent (made=False: it was not made after all)."""

    lease: str
    tokens: int = 0
    cost: str | None = None
    made: bool = True


@dataclass
class Chunk:
    """New lines of one log file of one run of an item (compressed, base64), from byte `at`."""

    run_id: str
    name: str
    at: int
    data: str


@dataclass
class Recording:
    """New lines of an item's run logs, from attempt `attempt` of it."""

    item: str
    attempt: int
    chunks: list[Chunk] = field(default_factory=list)


@dataclass
class Exchange:
    """Everything a worker's items had to tell the workflow since its last update, in one:
    leases asked, leases settled, recordings saved. One update at a time per worker keeps
    the workflow's history short and within the server's limit on updates in flight."""

    asks: list[Ask] = field(default_factory=list)
    settles: list[Settle] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)


@dataclass
class RunFiles:
    """A run's folder: file name -> its bytes (compressed, base64)."""

    run_id: str
    files: dict[str, str]


@dataclass
class ItemDone:
    """How an item ended: its results.jsonl line, its signature for the breaker, its runs."""

    line: dict[str, Any]
    dead: bool
    how: str
    inputs: dict[str, Any]
    runs: list[RunFiles] = field(default_factory=list)


@dataclass
class Status:
    """How the batch stands, as the workflow's `status` query answers."""

    fed: int = 0
    closed: bool = False
    running: int = 0
    ok: int = 0
    failed: int = 0
    stopped: int = 0
    duplicates: int = 0
    llm_calls: int = 0
    cost_usd: float = 0.0
    held_usd: float = 0.0
    reason: str | None = None
    done: bool = False
    runs: int = 1
    """The workflow's runs so far: one more at each continue-as-new."""


@dataclass
class Held:
    """A lease outstanding: the worst case it holds."""

    lease: str
    tokens: int
    cost: str


@dataclass
class Granted:
    """One grant in a rate window: when, and the tokens it was planned at."""

    at: float
    planned: int


@dataclass
class Ledger:
    """The governor as it hands on to the workflow's next run: what was spent, the leases
    outstanding, the attempts superseded, the first refusal and each rate window's grants."""

    llm_calls: int
    tokens: int
    cost: str
    held: list[Held]
    attempts: dict[str, int]
    hit: Grant | None
    windows: dict[str, list[Granted]]


@dataclass
class Carry:
    """What survives a continue-as-new: the governor, the breaker, the counters (the feed
    position among them), and the items fed and not started. No
    item is in flight at that point: the run drains first (fleet/workflow.py says why)."""

    ledger: Ledger
    status: Status
    started: int
    queue: list[ItemIn]
    breaker_last: str | None
    breaker_streak: int
    breaker_tripped: str | None
    breaker_since: int = 0
    """The line whose failure began the streak (0 from a run before it was carried)."""


def crew_digest(spec: dict[str, Any]) -> str:
    """A digest of a crew as loaded (its spec as JSON: the same crew file gives the same one on
    every machine, wherever it lies; a changed prompt, model, price or limit another)."""
    text = json.dumps(spec, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def pack(data: bytes) -> str:
    """Bytes as they travel: compressed, then base64."""
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def unpack(text: str) -> bytes:
    """The bytes `pack` was given."""
    return zlib.decompress(base64.b64decode(text))
