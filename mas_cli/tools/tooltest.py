"""`mas tool-test`: run one tool alone, with no model, N times, and judge what it did.

run_tool_tests -> find_crew -> pick_tool -> exercise (each run through the cache) -> ToolTest

A ToolTest holds every run's result, whether the cache answered it, and a verdict: ok, bad
arguments (nothing ran), failed, timeout, or not deterministic (a tool declared deterministic
whose outputs differ across runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import json
import math
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mas_cli.errors import MasError, UsageError
from mas_cli.events.diskio import check_writable
from mas_cli.events.text import loads
from mas_cli.llm.keys import crew_secrets
from mas_cli.records import replace
from mas_cli.spec.findings import did_you_mean
from mas_cli.spec.loader import Crew, load_crew
from mas_cli.spec.mcp import split_ref
from mas_cli.spec.models import JsonSchema, ToolKind
from mas_cli.tools import load_tool
from mas_cli.tools.arguments import parse_arguments
from mas_cli.tools.base import Tool, ToolResult, check_arguments
from mas_cli.tools.cache import CachedCall, CacheStatus, ToolCache, cache_dir, call_cached
from mas_cli.tools.mcp import open_servers
from mas_cli.tools.mcp.pool import named_server, served_tool

CREW_FILES = ("crew.yaml", "mas.yaml")
Verdict = Literal["ok", "bad_arguments", "failed", "timeout", "not_deterministic", "skipped"]
PASSING: frozenset[Verdict] = frozenset({"ok", "skipped"})


@dataclass(frozen=True)
class Request:
    """What `mas tool-test` was asked."""

    tool: str | None
    crew: Path | None
    home: Path
    pairs: list[str] = field(default_factory=list)
    args_json: str | None = None
    repeat: int = 1
    use_cache: bool = True
    timeout_s: float | None = None
    all_tools: bool = False


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


class _Keeper:
    """Keeps a run whole when no earlier run shows what it shows, else without its output."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.differed = self.failed = False

    def attempt(self, done: CachedCall) -> Attempt:
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


def run_tool_tests(request: Request) -> list[ToolTest]:
    """Find the crew, then test one tool, or (--all) every tool on each of its examples.

    Raises:
        UsageError: no crew file, an unknown tool, malformed --arg/--args, bad options.
        SpecError: the crew file has problems.
        ToolError: the tool cannot be loaded (one tool only; --all reports it and goes on).
    """
    _check_options(request)
    crew = load_crew(find_crew(request.crew, Path.cwd()))
    if request.use_cache:  # runs go through the cache: its home must take them (or --no-cache)
        check_writable(cache_dir(request.home), "cannot write the tool cache in")
    cache = ToolCache(cache_dir(request.home)) if request.use_cache else None
    try:
        if request.all_tools:
            return asyncio.run(_test_all(crew, request, cache))
        if named_server(crew, request.tool or ""):
            return [asyncio.run(_test_mcp(crew, request, cache))]
        tool = pick_tool(crew, request.tool or "", request.timeout_s)
        secrets = crew_secrets(crew.spec)
        arguments = parse_arguments(tool.parameters, request.pairs, request.args_json, secrets)
        return [asyncio.run(exercise(tool, arguments, request.repeat, cache))]
    finally:
        if cache is not None:
            cache.close()


def find_crew(explicit: Path | None, cwd: Path) -> Path:
    """--crew, else crew.yaml or mas.yaml here.

    Raises:
        UsageError: none of them; the message lists the crew files under ./crews.
    """
    if explicit is not None:
        return explicit
    for name in CREW_FILES:
        if (cwd / name).is_file():
            return Path(name)
    found = sorted(str(p.relative_to(cwd)) for p in (cwd / "crews").rglob("*.y*ml"))
    listed = ", ".join(found[:10]) + (", ..." if len(found) > 10 else "")
    raise UsageError(
        "no crew file here (looked for crew.yaml and mas.yaml)",
        hint=f"give --crew; crew files under ./crews: {listed}"
        if found
        else "give --crew CREW.yaml; there are no crew files under ./crews either",
    )


def pick_tool(crew: Crew, name: str, timeout_s: float | None = None) -> Tool:
    """A crew's tool by name, loaded; `timeout_s` replaces its timeout.

    Raises:
        UsageError: the crew has no such tool.
        ToolError: it cannot be loaded.
    """
    spec = crew.spec.tools.get(name)
    if spec is None:
        hint = did_you_mean(name, crew.spec.tools) or "this crew declares no tools"
        raise UsageError(f"{crew.path}: no tool '{name}'", hint=hint)
    if spec.mcp is not None:
        hint = f"name one of its tools: {name}.TOOL (mas validate lists them)"
        raise UsageError(f"{crew.path}: '{name}' is an MCP server, not one tool", hint=hint)
    if timeout_s is not None:
        spec = spec.model_copy(update={"timeout_s": timeout_s})
    return load_tool(crew, name, spec)


async def exercise(
    tool: Tool, arguments: dict[str, Any], repeat: int, cache: ToolCache | None
) -> ToolTest:
    """Check the arguments, then run the tool `repeat` times (stopping at a timeout)."""
    kind = tool.spec.effective_kind
    problems = tuple(check_arguments(tool, arguments))
    if problems:
        return ToolTest(
            tool.name, kind, arguments, problems=problems, signature=signature(tool.parameters)
        )
    attempts: list[Attempt] = []
    warnings: list[str] = []
    key, keeper = None, _Keeper()
    for _ in range(repeat):
        done = await call_cached(tool, arguments, cache)
        attempts.append(keeper.attempt(done))
        warnings += done.problems
        key = done.key or key
        if done.result.timed_out:
            break  # each further run would only wait out the same timeout
    return ToolTest(tool.name, kind, arguments, tuple(attempts), (), key, tuple(warnings))


async def _test_mcp(crew: Crew, request: Request, cache: ToolCache | None) -> ToolTest:
    """Start the tool's server, test the tool, close the server."""
    async with open_tool(crew, request.tool or "", request.timeout_s) as tool:
        secrets = crew_secrets(crew.spec)
        arguments = parse_arguments(tool.parameters, request.pairs, request.args_json, secrets)
        return await exercise(tool, arguments, request.repeat, cache)


@contextlib.asynccontextmanager
async def open_tool(crew: Crew, ref: str, timeout_s: float | None = None) -> AsyncIterator[Tool]:
    """A crew's tool by name, loaded (an MCP tool: its server started, then closed at the end);
    `timeout_s` replaces its timeout.

    Raises:
        UsageError: the crew has no such tool.
        ToolError: it cannot be loaded, or its server does not start.
    """
    if not named_server(crew, ref):
        yield pick_tool(crew, ref, timeout_s)
        return
    async with open_servers(crew, [split_ref(ref)[0]]) as servers:
        yield served_tool(crew, servers, ref, timeout_s)


async def _test_server(
    crew: Crew, name: str, request: Request, cache: ToolCache | None
) -> list[ToolTest]:
    """--all for one MCP server: each example (`{tool: arguments}`) on its tool."""
    spec = crew.spec.tools[name]
    try:
        async with open_servers(crew, [name]) as servers:
            tests = []
            for index, example in enumerate(spec.examples):
                ((tool_name, arguments),) = example.items()
                tool = served_tool(crew, servers, f"{name}.{tool_name}", request.timeout_s)
                test = await exercise(tool, dict(arguments), request.repeat, cache)
                tests.append(replace(test, example=index))
            return tests
    except MasError as exc:
        return [ToolTest(name, spec.effective_kind, {}, error=str(exc))]


async def _test_all(crew: Crew, request: Request, cache: ToolCache | None) -> list[ToolTest]:
    tests: list[ToolTest] = []
    for name, spec in crew.spec.tools.items():
        kind = spec.effective_kind
        if spec.mcp is not None and spec.examples:
            tests += await _test_server(crew, name, request, cache)
            continue
        if not spec.examples:
            tests.append(ToolTest(name, kind, {}, skipped="no examples in the crew file"))
            continue
        try:
            tool = pick_tool(crew, name, request.timeout_s)
        except MasError as exc:
            tests.append(ToolTest(name, kind, {}, error=str(exc)))
            continue
        for index, example in enumerate(spec.examples):
            test = await exercise(tool, dict(example), request.repeat, cache)
            tests.append(replace(test, example=index))
    return tests


def _check_options(request: Request) -> None:
    if request.tool and request.tool.endswith((".yaml", ".yml")):  # `mas tool-test crew.yaml`
        which = "--all" if request.all_tools else "TOOL"
        raise UsageError(
            f"{request.tool} is a crew file, not a tool",
            hint=f"give it with --crew: mas tool-test {which} --crew {request.tool}",
        )
    if request.all_tools and request.tool:
        raise UsageError("give a tool name or --all, not both")
    if request.all_tools and (request.pairs or request.args_json):
        raise UsageError("--all runs each tool's examples", hint="drop --arg and --args")
    if not request.all_tools and not request.tool:
        raise UsageError("name the tool to test", hint="mas tool-test TOOL, or --all")
    if request.repeat < 1:
        raise UsageError(f"--repeat {request.repeat}: give 1 or more")
    if request.timeout_s is not None and not 0 < request.timeout_s < math.inf:
        raise UsageError(f"--timeout {request.timeout_s:g}: give a number of seconds above 0")


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
