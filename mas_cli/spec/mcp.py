"""MCP servers in the crew file: the `mcp:` block of a tool entry, tool references, `${VAR}`.

A tool entry with `mcp:` is a server whose tools the agents may hold:

    tools:
      files:
        mcp: {command: [python, server.py, ./data], env: {TOKEN: "${FILES_TOKEN}"}}
        include: [read_file, list_directory]        # optional filter; default: all it offers
        kind: {read_file: deterministic}            # one for all, or per tool; default live
    agents:
      reader: {role: Reader, model: fast, tools: [files.read_file]}   # or `files`: all of them

Secrets come only from the environment: `${VAR}` in `env:` values, `headers:` values and `url`
is replaced by the variable's value when the server starts, and every such value is a secret
the run scrubs (see `secret_values`). Nothing here starts a server; see mas_cli.tools.mcp.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator

from mas_cli.redact import credentials
from mas_cli.spec.base import Spec
from mas_cli.spec.findings import Finding, did_you_mean, dotted

if TYPE_CHECKING:
    from mas_cli.spec.models import CrewSpec, ToolSpec

VARIABLE = re.compile(r"\$\{([^}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SEPARATOR = "."
"""`files.read_file`: the server's name under tools:, then the tool's name on that server."""


class McpServerSpec(Spec):
    """How to reach an MCP server: a command speaking stdio, or a streamable HTTP URL."""

    command: list[str] | None = Field(default=None, min_length=1)
    """argv of a server speaking MCP on stdin/stdout, run without a shell; `python` is mas's."""
    env: dict[str, str] = {}
    """stdio: variables the server gets besides the allow-list (PATH, HOME, ...); values may
    name `${VAR}` from mas's environment."""
    cwd: str | None = None
    """stdio: the server's working folder, relative to the crew file (default: its folder)."""
    url: str | None = None
    """Streamable HTTP: the endpoint, e.g. http://127.0.0.1:8765/mcp."""
    headers: dict[str, str] = {}
    """Streamable HTTP: request headers; values may name `${VAR}` (never write a key here)."""
    start_timeout_s: float = Field(default=30, gt=0)
    """Wall time for the server to start and list its tools."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of `command:` (stdio) or `url:` (streamable HTTP)")
        if self.url is not None and (self.env or self.cwd is not None):
            raise ValueError("`env:` and `cwd:` are for a `command:` server; use `headers:`")
        if self.command is not None and self.headers:
            raise ValueError("`headers:` are for a `url:` server; use `env:`")
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(  # never the URL itself: it may hold a password
                "url is not an http:// or https:// URL (not shown: it may hold a password)"
            )
        named = next((m.group(1) for a in self.command or () for m in VARIABLE.finditer(a)), None)
        if named is not None:  # else passed as written: a server that fails to log in, unsaid
            raise ValueError(
                f"`${{{named}}}` in `command:` is not replaced (an argument is seen by every "
                f'process on the machine); give it through `env: {{{named}: "${{{named}}}"}}` '
                "and have the server read it"
            )
        return self

    def identity(self) -> str:
        """What names this server in a cache key: its argv or its URL without credentials.

        Never an environment or header value; `${VAR}` stays as written.
        """
        if self.command is not None:
            return "stdio:" + "\x00".join(self.command)
        parts = urlsplit(self.url or "")
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"http:{parts.scheme}://{host}{port}{parts.path}"


def split_ref(ref: str) -> tuple[str, str | None]:
    """`files.read_file` -> ("files", "read_file"); `files` -> ("files", None)."""
    server, sep, tool = ref.partition(SEPARATOR)
    return (server, tool) if sep else (ref, None)


def servers(crew: CrewSpec) -> dict[str, ToolSpec]:
    """The tool entries that are MCP servers, by name."""
    return {name: spec for name, spec in crew.tools.items() if spec.mcp is not None}


def variables(text: str) -> list[str]:
    """The names `${NAME}` in a text, in order."""
    return VARIABLE.findall(text)


def expand(text: str, environ: Mapping[str, str] | None = None) -> str:
    """The text with each `${NAME}` replaced by that variable's value.

    Raises:
        KeyError: a variable is not set (its name is the argument).
    """
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        return env[match.group(1)]

    return VARIABLE.sub(value, text)


def templated(server: McpServerSpec) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every text that may hold `${VAR}`, with its path under the server's `mcp:`."""
    if server.url is not None:
        yield ("url",), server.url
    for key, text in server.env.items():
        yield ("env", key), text
    for key, text in server.headers.items():
        yield ("headers", key), text


def missing_variables(crew: CrewSpec, environ: Mapping[str, str] | None = None) -> list[str]:
    """`tools.search.mcp.headers.Authorization: SEARCH_TOKEN is not set`, one per unset (or
    empty) name."""
    return [f"{dotted(f.path)}: {f.message}" for f in unusable_variables(crew, environ)]


def unusable_variables(crew: CrewSpec, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Each `${VAR}` that is not set, or is set to nothing (blanks only): an empty token is
    no token, and would reach the server as `Bearer `. An empty value is written as such."""
    env = os.environ if environ is None else environ
    found = []
    for name, spec in servers(crew).items():
        assert spec.mcp is not None
        for path, text in templated(spec.mcp):
            where = ("tools", name, "mcp", *path)
            for var in variables(text):
                if var not in env:
                    found.append(Finding(where, f"{var} is not set", "export it before the run"))
                elif not env[var].strip():
                    fix = f"give it a value, or, if empty is meant, leave ${{{var}}} out"
                    found.append(Finding(where, f"{var} is set but empty", fix))
    return found


def secret_values(crew: CrewSpec, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every value a server is given through env: or headers: (expanded), each `${VAR}`'s
    value, and a password written into its url: all scrubbed from what the run writes or
    prints."""
    env = os.environ if environ is None else environ
    values: list[str] = []
    for spec in servers(crew).values():
        assert spec.mcp is not None
        for path, text in templated(spec.mcp):
            names = variables(text)
            values += [env[n] for n in names if n in env]
            if path[0] != "url" and all(n in env for n in names):
                values += credentials([expand(text, env)])
            elif path[0] == "url":  # a password written into it, as written and decoded
                written = urlsplit(text).password or ""
                values += [written, unquote(written)]
    return values


def check_servers(crew: CrewSpec) -> Iterator[Finding]:
    """Static checks of the MCP entries: fields that do not apply, `${...}` names, filters."""
    for name, spec in servers(crew).items():
        assert spec.mcp is not None
        yield from _check_variables(name, spec.mcp)
        yield from _check_named_tools(name, spec)


def _check_variables(name: str, server: McpServerSpec) -> Iterator[Finding]:
    for path, text in templated(server):
        for var in variables(text):
            if not ENV_NAME.fullmatch(var):
                yield Finding(
                    ("tools", name, "mcp", *path),
                    f"'${{{var}}}' is not a variable name (letters, digits and _)",
                    "write ${NAME}, e.g. ${SEARCH_TOKEN}",
                )


def _check_named_tools(name: str, spec: ToolSpec) -> Iterator[Finding]:
    """`kind:` keys and examples must name tools the filter lets through."""
    if isinstance(spec.kind, dict) and spec.include is not None:
        for tool in spec.kind:
            if tool not in spec.include:
                found = _not_included(("tools", name, "kind", tool), tool, spec.include)
                yield Finding(found.path, found.message, found.hint, at="key")
    for i, example in enumerate(spec.examples):
        if len(example) != 1 or not isinstance(next(iter(example.values())), dict):
            yield Finding(
                ("tools", name, "examples", i),
                "an MCP example is one tool and its arguments",
                "write {read_file: {path: notes.txt}}",
            )
        elif spec.include is not None and (tool := next(iter(example))) not in spec.include:
            yield _not_included(("tools", name, "examples", i), tool, spec.include)


def _not_included(path: tuple[str | int, ...], tool: str, include: list[str]) -> Finding:
    hint = did_you_mean(tool, include) or "add it to include:"
    return Finding(path, f"'{tool}' is not in include:", hint)


def reference_problem(crew: CrewSpec, ref: str) -> tuple[str, str | None] | None:
    """Why an agent's tool reference names nothing (message, hint), or None when it is fine.

    `name` under tools:, `server` (all its tools), or `server.tool` (one of them).
    """
    if ref in crew.tools:
        return None
    server, tool = split_ref(ref)
    spec = crew.tools.get(server)
    if tool is None or spec is None:
        hint = did_you_mean(ref, _known_refs(crew)) or "declare it under tools:"
        return f"tool '{ref}' is not defined", hint
    if spec.mcp is None:
        return f"'{server}' is not an MCP server, so '{ref}' names nothing", f"write '{server}'"
    if spec.include is not None and tool not in spec.include:
        hint = did_you_mean(tool, spec.include) or "add it to include:"
        return f"'{tool}' is not in tools.{server}.include", hint
    return None


def _known_refs(crew: CrewSpec) -> list[str]:
    refs = list(crew.tools)
    for name, spec in servers(crew).items():
        refs += [f"{name}{SEPARATOR}{tool}" for tool in spec.include or ()]
    return refs
