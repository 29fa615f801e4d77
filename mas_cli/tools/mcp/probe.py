"""What `mas validate` learns by starting a crew's MCP servers: each that some agent names (as
a run would) is started (within its start_timeout_s), asked for its tools, and closed.

Reported at their place in the crew file: an unset `${VAR}`, a server that will not start (with
its stderr's last lines), a tool that include:, kind:, an example or an agent names and the
server does not offer (did-you-mean), an input schema that is not valid JSON Schema, and an
example whose arguments that schema refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

from mas_cli.errors import MasError, Problem
from mas_cli.records import replace
from mas_cli.spec import mcp as spec_mcp
from mas_cli.spec.findings import Finding, did_you_mean
from mas_cli.spec.loader import Crew, locate_findings
from mas_cli.spec.summary import Validation
from mas_cli.spec.yamlpos import Path
from mas_cli.tools.base import argument_problems
from mas_cli.tools.mcp.connection import Connection, StartFailed
from mas_cli.tools.mcp.pool import launch, schema_problem, used_servers


@dataclass(frozen=True)
class Offer:
    """What one server offers: tool name -> input schema; or why it could not be asked."""

    name: str
    tools: dict[str, dict[str, object]]
    failure: Finding | None = None


def probe_servers(crew: Crew) -> tuple[list[Problem], dict[str, list[str]]]:
    """Problems of the crew's MCP servers, located in its file, and each server's tool names."""
    names = used_servers(crew)  # a server no agent names is not started by a run either
    if not names:
        return [], {}
    offers = asyncio.run(_ask_all(crew, names))
    findings = [f for offer in offers for f in _findings(crew, offer)]
    listed = {o.name: sorted(o.tools) for o in offers if o.failure is None}
    return (locate_findings(crew.path, findings) if findings else []), listed


async def _ask_all(crew: Crew, names: list[str]) -> list[Offer]:
    return list(await asyncio.gather(*(_ask(crew, name) for name in names)))


async def _ask(crew: Crew, name: str) -> Offer:
    try:
        connection = Connection(launch(crew, name))
    except MasError as exc:
        where = exc.message.rpartition(": ")[0].rpartition(" ")[2]
        return Offer(name, {}, Finding(_path_of(where, name), _short(exc.message), exc.hint))
    try:
        await connection.start()
    except StartFailed as exc:
        path = ("tools", name, "mcp")
        hint = _URL_HINT if connection.launch.url is not None else _START_HINT
        return Offer(name, {}, Finding(path, f"the MCP server did not start: {exc}", hint))
    except asyncio.CancelledError:
        # Ctrl-C. Closed here, by its own task: asyncio.run's end would cancel every task at
        # once, the SDK's inner ones too, and its shutdown could then wait forever.
        await connection.close(at_once=True)
        raise
    tools = {t.name: dict(t.input_schema or {}) for t in connection.tools}
    await connection.close()
    return Offer(name, tools)


_START_HINT = "run its command by hand to see it fail, or raise start_timeout_s"
_URL_HINT = "check its url and headers (a wrong token is HTTP 401), or raise start_timeout_s"


def _path_of(where: str, name: str) -> Path:
    """`tools.search.mcp.headers.Authorization` -> its path; the server's entry otherwise."""
    parts = where.split(".")
    return tuple(parts) if parts[:2] == ["tools", name] else ("tools", name, "mcp")


def _short(message: str) -> str:
    return message.rpartition(": ")[2] if ": " in message else message


def _findings(crew: Crew, offer: Offer) -> Iterator[Finding]:
    if offer.failure is not None:
        yield offer.failure
        return
    yield from _unknown_tools(crew, offer)
    yield from _bad_schemas(crew, offer)
    yield from _bad_examples(crew, offer)


def _unknown_tools(crew: Crew, offer: Offer) -> Iterator[Finding]:
    for path, tool in _named(crew, offer.name):
        if tool not in offer.tools:
            hint = did_you_mean(tool, offer.tools) or "the server offers no tools"
            yield Finding(path, f"the MCP server {offer.name} offers no tool '{tool}'", hint)


def _named(crew: Crew, name: str) -> Iterator[tuple[Path, str]]:
    """Where the crew file names one of this server's tools."""
    spec = crew.spec.tools[name]
    for i, tool in enumerate(spec.include or ()):
        yield ("tools", name, "include", i), tool
    if isinstance(spec.kind, dict):
        yield from ((("tools", name, "kind", t), t) for t in spec.kind)
    for i, example in enumerate(spec.examples):
        yield from ((("tools", name, "examples", i), t) for t in list(example)[:1])
    for agent_name, agent in crew.spec.all_agents().items():
        for i, ref in enumerate(agent.tools):
            server, named = spec_mcp.split_ref(ref)
            if server == name and named and ref not in crew.spec.tools:
                yield ("agents", agent_name, "tools", i), named


def _bad_schemas(crew: Crew, offer: Offer) -> Iterator[Finding]:
    include = crew.spec.tools[offer.name].include
    for tool, schema in offer.tools.items():
        problem = schema_problem(schema) if include is None or tool in include else None
        if problem:
            yield Finding(
                ("tools", offer.name, "mcp"),
                f"the input schema of '{tool}' is not valid JSON Schema: {problem}",
                "fix the server, or leave the tool out with include:",
            )


def _bad_examples(crew: Crew, offer: Offer) -> Iterator[Finding]:
    for i, example in enumerate(crew.spec.tools[offer.name].examples):
        if len(example) != 1:
            continue
        tool, arguments = next(iter(example.items()))
        schema = offer.tools.get(tool)
        if schema is None or not isinstance(arguments, dict) or schema_problem(schema):
            continue
        for message in argument_problems(schema, arguments):
            yield Finding(("tools", offer.name, "examples", i), message, "fix the example")


def with_offers(report: Validation, offers: dict[str, list[str]]) -> Validation:
    """The report's summary with each started server's tools listed beside it."""
    if report.summary is None or not offers:
        return report
    tools = [
        {**t, "offers": offers[t["name"]]} if t["name"] in offers else t
        for t in report.summary.tools
    ]
    return replace(report, summary=replace(report.summary, tools=tools))
