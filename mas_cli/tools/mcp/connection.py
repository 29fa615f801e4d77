"""One MCP server for one run: started once, shared by every caller, closed with its whole tree.

A `Connection` owns the server from a task of its own (the SDK's transports and session are
context managers that must be entered and left in one task); callers from any task of the run
send their requests through the shared session. A stdio server runs under mas's reaper (see
tools/reaper.py), so nothing it starts outlives the run, even when mas itself is killed. Its
stderr goes to an unnamed temporary file (never a path on disk), whose last lines explain a
server that would not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from mas_cli.redact import Secrets
from mas_cli.tools.mcp.lines import LIMIT, LINE_LIMIT, LineLimit
from mas_cli.tools.mcp.replies import mended

if TYPE_CHECKING:
    from mcp import ClientSession
    from mcp.types import CallToolResult
    from mcp.types import Tool as McpToolInfo

STDERR_LINES = 5
STDERR_KEPT = 16 * 1024
"""Bytes read from the end of a server's stderr to quote its last lines."""
STDERR_ROOM = 1024 * 1024
"""Bytes of stderr a server may write before all but the last STDERR_KEPT are freed."""
STDERR_CHECK_S = 5.0
CLOSE_GRACE_S = 10.0
"""The SDK's own shutdown is bounded (close stdin, 2 s, SIGTERM to the group, 2 s, SIGKILL)."""


class ServerGone(Exception):
    """The server's connection ended (it exited, crashed, or its HTTP endpoint went away)."""


class Refused(Exception):
    """An HTTP server answered a call with an error status; the message names it."""


class StartFailed(Exception):
    """The server did not start, or did not list its tools, in time; the message says why."""


@dataclass(frozen=True)
class Launch:
    """How to reach one server, `${VAR}` already expanded: held in memory only, never logged."""

    name: str
    start_timeout_s: float
    argv: tuple[str, ...] = ()
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    secrets: Secrets = field(default_factory=Secrets, repr=False)
    stamps: tuple[str, ...] = ()
    """stdio: path, size and modification time of the program and of each file its argv
    names (`server.py`): the server's code, for the cache key."""
    line_limit: int = LINE_LIMIT
    """stdio: the longest line (one message) read from its stdout; a longer one breaks it."""


class Connection:
    """A running server's session, owned by its own task. `start` once, `close` once."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.tools: list[McpToolInfo] = []
        self._session: ClientSession | None = None
        self._failure: BaseException | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stderr: TextIO | None = None
        self._freed = 0
        self._lines = LineLimit(launch.line_limit)
        self._refused: str | None = None
        """The last HTTP error status the server answered with (`HTTP 401 Unauthorized`): the
        SDK's own message says only "Server returned an error response"."""

    async def start(self) -> None:
        """Start the server and list its tools, within start_timeout_s.

        Raises:
            StartFailed: it exited, refused the handshake, or took too long; with its stderr.
        """
        _quiet_sdk()
        # An unnamed file: gone from the file system from the start, so nothing it holds stays.
        stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._stderr = cast("TextIO", stderr)  # closed by close()
        self._task = asyncio.create_task(self._own(), name=f"mcp:{self.launch.name}")
        timeout = self.launch.start_timeout_s
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            await self._fail(f"it did not start within {timeout:g}s")
        except asyncio.CancelledError:
            # Ctrl-C while it starts: closed here, at once (a server in its handshake cannot
            # notice a close, so the grace a started one gets, 10 s, would only be waited out),
            # and by its own task: asyncio.run's end would cancel every task at once, the SDK's
            # inner ones too, and its shutdown could then wait forever.
            await self.close(at_once=True)
            raise
        if self._session is None:
            reason = describe(self._failure) if self._failure else "it ended at once"
            reason = self._lines.why() if self._lines.passed else reason
            await self._fail(f"{reason} ({self._refused})" if self._refused else reason)

    async def _fail(self, reason: str) -> NoReturn:
        """Close what started, then raise StartFailed with the stderr it left. A server still
        in its handshake is stopped at once: it cannot notice a close, so a grace only waits."""
        await self.close(keep_stderr=True, at_once=True)
        message = self._explain(reason)
        self._close_stderr()
        raise StartFailed(message)

    async def call(
        self, tool: str, arguments: dict[str, Any], meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        """One tools/call (`meta`: the request's `_meta`). Raises ServerGone when the
        connection has ended; MCPError for a protocol error the server answered with."""
        session = self._session
        if session is None or self.ended:
            raise ServerGone(self.why_gone())
        try:
            if meta:
                return await session.call_tool(tool, arguments, meta=cast("Any", meta))
            return await session.call_tool(tool, arguments)
        except Exception as exc:
            if _connection_lost(exc):
                raise ServerGone(self.why_gone(exc)) from None
            refused, self._refused = self._refused, None
            if refused:  # the SDK's words do not say which status
                raise Refused(f"{describe(exc)} ({refused})") from None
            raise

    @property
    def ended(self) -> bool:
        """Whether the owning task has finished (the session is over)."""
        return self._task is None or self._task.done()

    def why_gone(self, exc: BaseException | None = None) -> str:
        """`the MCP server files is gone: MCPError: Connection closed; its stderr ends: ...`."""
        reason = describe(exc or self._failure) if (exc or self._failure) else "it stopped"
        reason = self._lines.why() if self._lines.passed else reason
        return self._explain(f"the MCP server {self.launch.name} is gone: {reason}")

    async def close(self, *, keep_stderr: bool = False, at_once: bool = False) -> None:
        """End the session and the server (its whole process tree); never raises. `at_once`
        (Ctrl-C, a failed start) gives a server that is still starting no grace."""
        self._closing.set()
        task = self._task
        if task is not None and not task.done():
            grace = 0.0 if at_once and not self._ready.is_set() else CLOSE_GRACE_S
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if not keep_stderr:
            self._close_stderr()

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def _own(self) -> None:
        LIMIT.set(self._lines)  # for the SDK's stdout reader, a task started inside this one
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                read = await stack.enter_async_context(mended(read))
                from mcp import ClientSession

                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                self.tools = await _list_tools(session)
                self._session = session
                self._ready.set()
                while not self._closing.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), STDERR_CHECK_S)
                    self.trim_stderr()
        except Exception as exc:  # a failed start, or the transport's end: told to callers
            self._failure = exc
        finally:
            self._session = None
            self._ready.set()

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        if self.launch.url is not None:
            return _http(self.launch, self._note_refusal)
        from mcp import StdioServerParameters, stdio_client

        from mas_cli.tools.mcp.lines import read_in_whole_lines

        read_in_whole_lines()
        program, *args = self.launch.argv
        # "replace": with the SDK's default ("strict") one byte that is not UTF-8 on stdout
        # (a log line in Latin-1) ends its reader in a drain of all that follows, answers
        # included, while the server lives: every call then times out, and none restarts it.
        params = StdioServerParameters(
            command=program,
            args=args,
            env=self.launch.env,
            cwd=self.launch.cwd,
            encoding_error_handler="replace",
        )
        assert self._stderr is not None  # made by start()
        return stdio_client(params, errlog=self._stderr)

    async def _note_refusal(self, response: Any) -> None:
        if response.status_code >= 400:
            said = str(response.reason_phrase)[:60]  # the server's words: scrubbed as the rest
            self._refused = f"HTTP {response.status_code} {said}".strip()

    def trim_stderr(self) -> None:
        """Free the disk all but the last STDERR_KEPT bytes of a server's stderr hold, once it
        has written STDERR_ROOM: a hole is punched in the file (Linux), whose size, and the
        server's place in it, stay; a server logging without end fills no disk."""
        if self._stderr is None:
            return
        with contextlib.suppress(OSError, ValueError, AttributeError):
            fd = self._stderr.fileno()
            size = os.fstat(fd).st_size
            if size - self._freed > STDERR_ROOM:
                _punch_hole(fd, size - STDERR_KEPT)
                self._freed = size - STDERR_KEPT

    def _explain(self, reason: str) -> str:
        tail = self._stderr_tail()
        text = f"{reason}; its stderr ends:\n{tail}" if tail else reason
        return self.launch.secrets.scrub(text)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            fd = self._stderr.fileno()  # the server writes to it directly: read its end only
            start = max(0, os.fstat(fd).st_size - STDERR_KEPT)
            tail = os.pread(fd, STDERR_KEPT, start).decode("utf-8", errors="replace")
            if start:  # begun mid-line: a fragment the scrub cannot know (a key's second half)
                cut = tail.find("\n")
                longest = max(map(len, self.launch.secrets.values), default=0)
                tail = tail[cut + 1 :] if cut >= 0 else "…" + tail[longest:]
            lines = tail.strip().splitlines()
            return "\n".join(f"  {line}" for line in lines[-STDERR_LINES:])
        return ""


@contextlib.asynccontextmanager
async def _http(
    launch: Launch, on_response: Callable[[Any], Awaitable[None]]
) -> AsyncIterator[Any]:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    from mas_cli.tools.mcp.httpcap import cap_json_reply

    assert launch.url is not None
    # An SSE event may take what a JSON reply may: the SDK's own bound (1 MiB) made a 2 MB
    # reply a server that died.
    limit = launch.line_limit
    async with (
        create_mcp_http_client(headers=launch.headers) as client,
        streamable_http_client(launch.url, http_client=client, max_sse_event_size=limit) as streams,
    ):
        client.event_hooks["response"] += [
            on_response,
            partial(cap_json_reply, limit=launch.line_limit),
        ]
        yield streams


async def _list_tools(session: ClientSession) -> list[McpToolInfo]:
    """Every tool the server offers, across pages."""
    from mcp.types import PaginatedRequestParams

    listed = await session.list_tools()
    tools = list(listed.tools)
    asked: set[str] = set()
    while listed.next_cursor:
        if listed.next_cursor in asked:  # asked again, it would list the same pages forever
            raise StartFailed(f"its tool list repeats its page '{listed.next_cursor[:80]}'")
        asked.add(listed.next_cursor)
        listed = await session.list_tools(params=PaginatedRequestParams(cursor=listed.next_cursor))
        tools += listed.tools
    return _one_each(tools)


def _one_each(tools: list[McpToolInfo]) -> list[McpToolInfo]:
    """The tools, each name once: a name listed twice the same way is one tool; listed with
    two definitions, which one a call gets is anyone's guess, so the start fails."""
    seen: dict[str, McpToolInfo] = {}
    for tool in tools:
        if tool.name in seen and seen[tool.name] != tool:
            raise StartFailed(f"it offers two different tools named '{tool.name[:80]}'")
        seen.setdefault(tool.name, tool)
    return list(seen.values())


def _connection_lost(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError
    from mcp.types import CONNECTION_CLOSED

    if isinstance(exc, MCPError):
        return exc.error.code == CONNECTION_CLOSED
    import anyio

    return isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError | OSError)


def _punch_hole(fd: int, length: int) -> None:
    """Free the first `length` bytes of a file on disk, keeping its size (zeros read back)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fallocate = libc.fallocate  # AttributeError off Linux: nothing freed
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    keep_size, punch_hole = 0x01, 0x02  # FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE
    fallocate(fd, keep_size | punch_hole, 0, length)


def _quiet_sdk() -> None:
    """The SDK logs transport trouble (with tracebacks) as it sees it; mas reports the outcome."""
    sdk = logging.getLogger("mcp")
    if not any(isinstance(h, logging.NullHandler) for h in sdk.handlers):
        sdk.addHandler(logging.NullHandler())


def describe(exc: BaseException | None) -> str:
    """An exception as one line; an exception group by its first leaf."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if exc is None:
        return "unknown"
    if isinstance(exc, StartFailed | Refused):  # our own words
        return str(exc)
    errors = getattr(exc, "errors", None)
    if callable(errors) and getattr(exc, "title", None):  # pydantic: what the server sent wrong
        return _malformed(str(getattr(exc, "title", "")), errors())
    message = getattr(exc, "message", None)  # MCPError: its message, not its argument tuple
    text = str(message if isinstance(message, str) else exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _malformed(what: str, errors: list[Any]) -> str:
    """A reply the SDK refused, by the first field it refused: `the server's ListToolsResult
    is malformed at tools.0.inputSchema.type: Input should be 'object'`."""
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    at = f" at {where}" if where else ""
    return f"the server's {what} is malformed{at}: {first.get('msg', 'refused')}{more}"
