"""A run's MCP servers: each started once (all at once), their tools picked, all closed at end.

open_servers(crew) -> launch (expand `${VAR}`) -> Server.start -> pick the tools -> McpTool
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mas_cli.errors import ToolError, UsageError
from mas_cli.llm.keys import crew_secrets, model_keys
from mas_cli.records import replace
from mas_cli.spec import mcp as spec_mcp
from mas_cli.spec.checks import schema_problems
from mas_cli.spec.findings import did_you_mean, dotted
from mas_cli.spec.loader import Crew, locate_findings
from mas_cli.spec.models import JsonSchema, ToolSpec
from mas_cli.spec.toolchecks import resolve_program, unfound_program
from mas_cli.tools import ScrubbedTool, scrubbed
from mas_cli.tools.base import IDEMPOTENCY_PARAM, Tool
from mas_cli.tools.command import reaped, stamp
from mas_cli.tools.environment import tool_environment
from mas_cli.tools.mcp.connection import Launch, StartFailed
from mas_cli.tools.mcp.lines import line_limit
from mas_cli.tools.mcp.tool import McpTool, Server

if TYPE_CHECKING:
    from mcp.types import Tool as McpToolInfo


@dataclass
class Servers:
    """The started servers of a run and the tools taken from them, by `server.tool`."""

    servers: dict[str, Server] = field(default_factory=dict)
    tools: dict[str, McpTool] = field(default_factory=dict)

    async def close(self) -> None:
        """Close every server (each with its process tree), all at once; never raises."""
        await asyncio.gather(*(s.close() for s in self.servers.values()), return_exceptions=True)


def used_servers(crew: Crew) -> list[str]:
    """The MCP servers some agent names (`files` or `files.read_file`), in file order."""
    named = {spec_mcp.split_ref(ref)[0] for a in crew.spec.all_agents().values() for ref in a.tools}
    return [name for name in spec_mcp.servers(crew.spec) if name in named]


@contextlib.asynccontextmanager
async def open_servers(
    crew: Crew, names: Iterable[str] | None = None, *, shared: bool = False
) -> AsyncIterator[Servers]:
    """Start the named servers (default: those some agent uses) and take their tools;
    `shared`: for every run of a batch, each restarted whenever it dies (see Server).

    Raises:
        UsageError: a `${VAR}` a server needs is not set (before anything starts).
        ToolError: a server did not start (with its stderr's last lines), or names a tool it
            does not offer, or offers a tool whose input schema is not valid JSON Schema.
    """
    wanted = list(used_servers(crew) if names is None else names)
    launches = [launch(crew, name) for name in wanted]
    started = Servers({item.name: Server(item, shared=shared) for item in launches})
    try:
        await _start_all(started)
        for name, server in started.servers.items():
            started.tools.update(pick_tools(crew, name, server))
        yield started
    finally:
        await started.close()


@contextlib.asynccontextmanager
async def mcp_tools(crew: Crew, given: dict[str, Tool] | None) -> AsyncIterator[dict[str, Tool]]:
    """A run's MCP tools, scrubbed: `given` (a batch started each server once for all its
    runs), else the run's own, each server started once and closed with its tree at the end.

    Raises:
        As open_servers.
    """
    if given is not None:
        yield given
        return
    async with open_servers(crew) as servers:
        yield scrubbed(crew, servers.tools)


async def _start_all(started: Servers) -> None:
    results = await asyncio.gather(
        *(s.connection.start() for s in started.servers.values()), return_exceptions=True
    )
    for server, result in zip(started.servers.values(), results, strict=True):
        if isinstance(result, StartFailed):
            raise ToolError(
                f"tools.{server.name}: the MCP server did not start: {result}",
                hint="run `mas validate` to check every server; see start_timeout_s",
            )
        if isinstance(result, BaseException):
            raise result


def launch(crew: Crew, name: str) -> Launch:
    """How to start one server, `${VAR}` expanded.

    Raises:
        UsageError: a variable it names is not set.
        ToolError: its program cannot be found.
    """
    spec = crew.spec.tools[name]
    server = spec.mcp
    assert server is not None
    unusable = [f for f in spec_mcp.unusable_variables(crew.spec) if f.path[1] == name]
    if unusable:  # `file:line:col: tools.NAME.mcp...: VAR is not set` (or set but empty)
        found = locate_findings(crew.path, unusable[:1])[0]
        where = f"{found.file}:{found.line}:{found.col}" if found.line else found.file
        raise UsageError(f"{where}: {found.path}: {found.message}", hint=found.hint)
    secrets = crew_secrets(crew.spec)
    if server.url is not None:
        headers = {k: spec_mcp.expand(v) for k, v in server.headers.items()}
        url = spec_mcp.expand(server.url)
        return Launch(name, server.start_timeout_s, url=url, headers=headers, secrets=secrets)
    assert server.command is not None
    base = crew.base_dir.resolve()
    program = resolve_program(server.command[0], base)
    if program is None:
        why, fix = unfound_program(server.command[0], base)
        raise ToolError(f"tools.{name}.mcp.command: {why}", hint=fix)
    env = tool_environment((), model_keys(crew.spec))
    env.update({k: spec_mcp.expand(v) for k, v in server.env.items()})
    argv = tuple(reaped([program, *server.command[1:]]))
    cwd = base / server.cwd if server.cwd else base
    stamps = file_stamps([program, *server.command[1:]], cwd)
    limit = line_limit(spec.max_output_bytes)
    return Launch(
        name,
        server.start_timeout_s,
        argv,
        cwd,
        env,
        secrets=secrets,
        stamps=stamps,
        line_limit=limit,
    )


def file_stamps(argv: list[str], cwd: Path) -> tuple[str, ...]:
    """`path:size:mtime` of each argv element that names a file (from the server's folder)."""
    files = [cwd / arg for arg in argv if "\0" not in arg]
    return tuple(stamp(path) for path in files if path.is_file())


def pick_tools(crew: Crew, name: str, server: Server) -> dict[str, McpTool]:
    """The server's tools the crew takes (include:, else all), as crew tools.

    Raises:
        ToolError: include:, kind: or an agent names a tool the server does not offer; or a
            taken tool's input schema is not valid JSON Schema.
    """
    spec = crew.spec.tools[name]
    offered = {t.name: t for t in server.connection.tools}
    for named in named_tools(crew, name):
        if named not in offered:
            hint = did_you_mean(named, offered) or "the server offers no tools"
            raise ToolError(f"tools.{name}: the server offers no tool '{named}'", hint=hint)
    taken = spec.include if spec.include is not None else list(offered)
    tools = {f"{name}.{t}": make_tool(name, spec, offered[t], server) for t in taken}
    for tool in tools.values():
        problem = schema_problem(tool.parameters)
        if problem:
            raise ToolError(
                f"tools.{name}: the input schema of '{tool.remote}' is not valid JSON Schema: "
                f"{problem}",
                hint="fix the server, or leave the tool out with include:",
            )
    return tools


def named_tools(crew: Crew, name: str) -> list[str]:
    """Every tool of this server the crew file names: include:, kind: keys, examples, agents."""
    spec = crew.spec.tools[name]
    named = list(spec.include or ())
    named += list(spec.kind) if isinstance(spec.kind, dict) else []
    named += [next(iter(example)) for example in spec.examples if len(example) == 1]
    for agent in crew.spec.all_agents().values():
        named += [t for s, t in map(spec_mcp.split_ref, agent.tools) if s == name and t]
    return list(dict.fromkeys(named))


def make_tool(name: str, spec: ToolSpec, info: McpToolInfo, server: Server) -> McpTool:
    """One offered tool as a crew tool, its kind resolved from the server's entry."""
    kind = spec.kind_of(info.name)
    own = spec.model_copy(update={"kind": kind, "deterministic": None})
    schema, key_param = without_key(dict(info.input_schema or {"type": "object"}))
    description = info.description or ""
    return McpTool(f"{name}.{info.name}", own, description, schema, info.name, server, key_param)


def without_key(schema: JsonSchema) -> tuple[JsonSchema, bool]:
    """The input schema without an `idempotency_key` parameter, and whether it had one: the
    engine fills it in (a side_effect call's key), the model never sees it."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or IDEMPOTENCY_PARAM not in properties:
        return schema, False
    kept = {k: v for k, v in properties.items() if k != IDEMPOTENCY_PARAM}
    required = schema.get("required")
    shown = {**schema, "properties": kept}
    if isinstance(required, list):
        shown["required"] = [r for r in required if r != IDEMPOTENCY_PARAM]
    return shown, True


def schema_problem(schema: JsonSchema) -> str | None:
    """Why an input schema is not valid JSON Schema, in one line; None when it is."""
    found = next(iter(schema_problems(schema, ())), None)
    if found is None:
        return None
    where = f"at {dotted(found.path)}: " if found.path else ""
    return where + found.message


def named_server(crew: Crew, ref: str) -> str | None:
    """The MCP server a `server.tool` reference names, if it does."""
    server, tool = spec_mcp.split_ref(ref)
    spec = crew.spec.tools.get(server)
    return server if tool and ref not in crew.spec.tools and spec and spec.mcp else None


def served_tool(crew: Crew, servers: Servers, ref: str, timeout_s: float | None = None) -> Tool:
    """`server.tool` from a started server, scrubbed as a run's; `timeout_s` replaces its own.

    Raises:
        UsageError: the server offers no such tool (or include: leaves it out).
    """
    tool = servers.tools.get(ref)
    if tool is None:
        hint = did_you_mean(ref, servers.tools) or "the server offers no tools"
        raise UsageError(f"{crew.path}: no tool '{ref}'", hint=hint)
    if timeout_s is not None:
        tool = replace(tool, spec=tool.spec.model_copy(update={"timeout_s": timeout_s}))
    return ScrubbedTool(tool, crew_secrets(crew.spec))
