"""Side-effect tool calls: each carries an idempotency key, is announced before it runs, and
runs at most once across a run and its resumes.

The key is a digest of the chain's first run id, the task, the tool, the canonical arguments
and the occurrence (the nth such call in the task), so the same call gets the same key when a
resume makes it again. A call that completed in an earlier run of the chain is answered with
its recorded result; the tool gets the key (see tools.base.IDEMPOTENCY_KEY) so the system
behind it can deduplicate too.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from msgspec import Struct, field

from mas_cli.tools.base import ToolResult

KEY_PREFIX = "mas-"


class Completed(Struct, frozen=True):
    """A side_effect call that completed in an earlier run: the result to give back."""

    ok: bool
    output: str
    error: str | None = None

    def result(self) -> ToolResult:
        """The recorded result, as the tool gave it."""
        return ToolResult(ok=self.ok, output=self.output, error=self.error)


class Effects(Struct):
    """The side_effect calls of one run: keys handed out, and the calls already done."""

    root: str
    """The first run of the chain (this run's own id when it resumes nothing)."""
    completed: dict[str, Completed] = field(default_factory=dict)
    occurrences: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def key(self, task: str, tool: str, arguments: dict[str, Any]) -> str:
        """The idempotency key of this call: the same for the same call on a resume."""
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
        self.occurrences[(task, tool, canonical)] += 1
        nth = self.occurrences[(task, tool, canonical)]
        text = "\0".join([self.root, task, tool, canonical, str(nth)])
        return KEY_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]
