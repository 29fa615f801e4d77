"""What `mas tool-test` found of one tool: each run, the verdict, the latency, the diff.

A ToolTest holds every run's result, whether the cache answered it, and a verdict: ok, bad
arguments (nothing ran), failed, timeout, or not deterministic (a tool declared deterministic
whose outputs differ across runs). `to_json` is the record `--json` prints.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import statistics
from dataclasses import dataclass
from typing import Any, Literal

from mas_cli.events.text import loads
from mas_cli.records import replace
from mas_cli.spec.models import JsonSchema, ToolKind
from mas_cli.tools.base import ToolResult
from mas_cli.tools.cache import CachedCall, CacheStatus

Verdict = Literal["ok", "bad_arguments", "failed", "timeout", "not_deterministic", "skipped"]
PASSING: frozenset[Verdict] = frozenset({"ok", "skipped"})


@dataclass(frozen=True)
class Attempt:
    """One run of the tool. Its output and traceback are kept only where a report shows them
    (the first run, the first whose output differs, the first that failed): memory does not
    grow with --repeat; `digest` is what the determinism check compares."""

    result: ToolResult
    cache: CacheStatus
    saved_s: float | None = None
    digest: str = ""
    kept: bool = True
    """Whether `result.output` and `result.traceback` are the run's (False: left out)."""


class Keeper:
    """Keeps a run whole when no earlier run shows what it shows, else without its output."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.differed = self.failed = False

    def attempt(self, done: CachedCall) -> Attempt:
        """The run as an Attempt, its output and traceback kept or left out."""
        result = done.result
        digest = hashlib.sha256(result.output.encode("utf-8", "surrogatepass")).hexdigest()
        first = self.first is None
        self.first = digest if self.first is None else self.first
        new_output = digest != self.first and not self.differed
        new_failure = not result.ok and not self.failed
        self.differed |= digest != self.first
        self.failed |= not result.ok
        kept = first or new_output or new_failure
        if not kept:
            result = replace(result, output="", traceback=None)
        return Attempt(result, done.status, done.saved_s, digest, kept)


@dataclass(frozen=True)
class Latency:
    """Seconds per run."""

    min: float
    median: float
    p95: float
    max: float


@dataclass(frozen=True)
class ToolTest:
    """One tool tested with one set of arguments."""

    tool: str
    kind: ToolKind
    arguments: dict[str, Any]
    attempts: tuple[Attempt, ...] = ()
    problems: tuple[str, ...] = ()
    """One message per bad, missing or unknown argument; nothing ran."""
    cache_key: str | None = None
    warnings: tuple[str, ...] = ()
    example: int | None = None
    """--all: which of the tool's examples (0-based)."""
    skipped: str | None = None
    error: str | None = None
    """The tool could not be loaded."""
    signature: str = ""
    """The parameters, for a message about bad arguments: `query: string, limit?: integer`."""

    @property
    def verdict(self) -> Verdict:
        """How the test went, worst first."""
        failed = [a.result for a in self.attempts if not a.result.ok]
        if self.skipped:
            return "skipped"
        if self.problems:
            return "bad_arguments"
        if any(r.timed_out for r in failed):
            return "timeout"
        if failed or self.error:
            return "failed"
        if self.kind == "deterministic" and self.identical is False:
            return "not_deterministic"
        return "ok"

    @property
    def ran(self) -> bool:
        """Whether the tool itself ran at least once (a cache hit runs nothing)."""
        return any(a.cache != "hit" for a in self.attempts)

    @property
    def cached(self) -> bool:
        """Whether every run was answered from the cache."""
        return bool(self.attempts) and not self.ran

    @property
    def identical(self) -> bool | None:
        """Whether every run gave the same output; None with fewer than two runs."""
        digests = {a.digest for a in self.attempts}
        return None if len(self.attempts) < 2 else len(digests) == 1

    @property
    def latency(self) -> Latency | None:
        """min, median, p95 (nearest rank) and max over the runs."""
        times = sorted(a.result.latency_s for a in self.attempts)
        if not times:
            return None
        p95 = times[max(0, math.ceil(0.95 * len(times)) - 1)]
        return Latency(times[0], statistics.median(times), p95, times[-1])

    @property
    def diff(self) -> str | None:
        """A unified diff of the first output against the first one that differs."""
        if not self.attempts:
            return None
        first = self.attempts[0]
        other = next((a for a in self.attempts if a.digest != first.digest), None)
        if other is None:
            return None
        index = self.attempts.index(other) + 1
        before = pretty(first.result.output).splitlines()
        after = pretty(other.result.output).splitlines()
        lines = difflib.unified_diff(before, after, "run 1", f"run {index}", lineterm="")
        return "\n".join(lines)


def signature(parameters: JsonSchema) -> str:
    """`query: string, limit?: integer = 2`: each parameter, its type, optional ones marked."""
    required = set(parameters.get("required", []))
    parts = []
    for name, schema in parameters.get("properties", {}).items():
        kind = schema.get("type", "any") if isinstance(schema, dict) else "any"
        kind = " | ".join(kind) if isinstance(kind, list) else str(kind)
        default = f" = {json.dumps(schema['default'])}" if "default" in schema else ""
        parts.append(f"{name}{'' if name in required else '?'}: {kind}{default}")
    return ", ".join(parts) or "none"


def pretty(output: str) -> str:
    """JSON output indented; other text as it is."""
    try:
        return json.dumps(loads(output), indent=2, ensure_ascii=False)
    except ValueError:
        return output


def to_json(test: ToolTest) -> dict[str, Any]:
    """A test as JSON for `--json`: the verdict, the figures, every run."""
    latency = test.latency
    return {
        "tool": test.tool,
        "kind": test.kind,
        "example": test.example,
        "arguments": test.arguments,
        "verdict": test.verdict,
        "ran": test.ran,
        "cached": test.cached,
        "problems": list(test.problems),
        "skipped": test.skipped,
        "error": test.error,
        "cache_key": test.cache_key,
        "identical": test.identical,
        "diff": test.diff,
        "latency_s": latency.__dict__ if latency else None,
        "warnings": list(test.warnings),
        "runs": [_run_json(a) for a in test.attempts],
    }


def _run_json(attempt: Attempt) -> dict[str, Any]:
    result = attempt.result
    return {
        "ok": result.ok,
        "cache": attempt.cache,
        "latency_s": round(result.latency_s, 6),
        "saved_s": attempt.saved_s,
        "output": result.output if attempt.kept else None,
        "output_sha256": attempt.digest,
        "error": result.error,
        "traceback": result.traceback if attempt.kept else None,
        "timed_out": result.timed_out,
        "truncated": result.truncated,
        "exit_code": result.exit_code,
    }
