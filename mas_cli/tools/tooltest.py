"""`mas tool-test`: run one tool alone, with no model, N times, and judge what it did.

run_tool_tests -> find_crew -> pick_tool -> exercise (each run through the cache) -> ToolTest

What a test found, and how it is judged, is tools/testresult.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mas_cli.errors import MasError, UsageError
from mas_cli.events.diskio import check_writable
from mas_cli.llm.keys import crew_secrets
from mas_cli.records import replace
from mas_cli.spec.findings import did_you_mean
from mas_cli.spec.loader import Crew, load_crew
from mas_cli.spec.mcp import split_ref
from mas_cli.tools import load_tool
from mas_cli.tools.arguments import parse_arguments
from mas_cli.tools.base import Tool, check_arguments
from mas_cli.tools.cache import ToolCache, cache_dir, call_cached
from mas_cli.tools.mcp import open_servers
from mas_cli.tools.mcp.pool import named_server, served_tool
from mas_cli.tools.testresult import Attempt, Keeper, ToolTest, signature

CREW_FILES = ("crew.yaml", "mas.yaml")


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
    key, keeper = None, Keeper()
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
