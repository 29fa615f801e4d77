"""An MCP server's tool as a crew tool: checked, timed, its errors told to the agent.

A server that died is restarted once per run (a batch's, once per call); the call is then made
again, unless the tool is a side effect (which may have happened: the agent is told so
instead). When the restarted server dies too, the result is fatal: the task fails with the
reason.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mas_cli.spec.models import JsonSchema, ToolSpec
from mas_cli.tools.base import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_PARAM,
    ToolResult,
    cap_output,
    checked_call,
    parts_digest,
    timed_out,
)
from mas_cli.tools.cachekey import canonical_json
from mas_cli.tools.mcp.connection import Connection, Launch, ServerGone, StartFailed, describe

if TYPE_CHECKING:
    from mcp.types import CallToolResult, ContentBlock


IDEMPOTENCY_META = "mas/idempotency_key"
"""The key of a side_effect call in the tools/call request's `_meta` (a prefixed name, as the
MCP spec asks of `_meta` keys that are not its own)."""


class ServerDead(Exception):
    """The server died again after its one restart."""


class Server:
    """One server of a run, as its tools share it: the connection, restarted once if it dies.

    A server shared by the runs of a batch (`shared`) is restarted each time it dies, once per
    call: a server that dies again at once fails that call, and the next call starts it again.
    """

    def __init__(self, launch: Launch, *, shared: bool = False) -> None:
        self.launch = launch
        self.connection = Connection(launch)
        self.restarted = False
        self.shared = shared
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """The server's name under tools:."""
        return self.launch.name

    async def call(
        self, tool: str, arguments: dict[str, Any], *, again: bool, meta: dict[str, Any] | None
    ) -> CallToolResult:
        """One tools/call; after a death, a restart and (when `again`) the call once more.

        Raises:
            ServerGone: the server died and was restarted, and the call was not made again.
            ServerDead: it died again after its restart, or could not be restarted.
            MCPError: the server answered with a protocol error.
        """
        connection = self.connection
        try:
            return await connection.call(tool, arguments, meta)
        except ServerGone as gone:
            await self._restart(connection, str(gone))
            if not again:
                raise
        try:
            return await self.connection.call(tool, arguments, meta)
        except ServerGone as gone:
            raise ServerDead(f"{gone} (after one restart)") from None

    async def _restart(self, dead: Connection, reason: str) -> None:
        async with self._lock:
            if self.connection is not dead:  # another call restarted it meanwhile
                return
            if self.restarted and not self.shared:
                raise ServerDead(f"{reason} (after one restart)")
            self.restarted = True
            await dead.close()
            self.connection = Connection(self.launch)
            try:
                await self.connection.start()
            except StartFailed as exc:
                raise ServerDead(f"{reason}; the restart failed: {exc}") from None

    async def close(self) -> None:
        """End the server and all it started."""
        await self.connection.close()


@dataclass(frozen=True)
class McpTool:
    """One tool of an MCP server, named `server.tool` in the crew file and the run log."""

    name: str
    spec: ToolSpec
    """The server's entry, `kind:` resolved for this tool."""
    description: str
    parameters: JsonSchema
    remote: str
    """Its name on the server."""
    server: Server = field(repr=False, compare=False)
    key_param: bool = False
    """Its input schema declares `idempotency_key`: a side_effect call's key goes there too
    (the parameter is taken out of the schema the model sees, as for a function tool)."""

    @property
    def server_name(self) -> str:
        """The server's name under tools:."""
        return self.server.name

    def fingerprint(self) -> str:
        """The server's identity (argv or URL, never a secret) and, for stdio, its program's
        and files' stamps; the tool's name and input schema; `version:`."""
        assert self.spec.mcp is not None
        server = (self.spec.mcp.identity(), *self.server.launch.stamps)
        schema = canonical_json(self.parameters)
        return parts_digest("mcp", *server, self.remote, schema, self.spec.version or "")

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Validate the arguments against the tool's input schema, then call it."""
        return await checked_call(self, arguments, self._run)

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        again = self.spec.effective_kind != "side_effect"
        key = IDEMPOTENCY_KEY.get()  # a side_effect call's key (None outside one)
        meta = {IDEMPOTENCY_META: key} if key else None
        if key and self.key_param:
            arguments = {**arguments, IDEMPOTENCY_PARAM: key}
        try:
            async with asyncio.timeout(self.spec.timeout_s):
                result = await self.server.call(self.remote, arguments, again=again, meta=meta)
        except TimeoutError:
            return timed_out(self.spec.timeout_s)
        except ServerDead as dead:
            return _failed(str(dead), fatal=True)
        except ServerGone as gone:
            return _failed(f"{gone}; it was restarted, but this call may or may not have happened")
        except Exception as exc:  # a protocol error the server answered, or a malformed reply
            return _failed(f"MCP error: {describe(exc)}")
        return self._result(result)

    def _result(self, result: CallToolResult) -> ToolResult:
        # Scrubbed before any cut: a key cut in two is a half the scrub cannot know.
        whole = self.server.launch.secrets.scrub(_text(result))
        text, truncated = cap_output(whole.encode(), self.spec.max_output_bytes)
        if not result.is_error:
            return ToolResult(ok=True, output=text, truncated=truncated)
        error = text.strip().splitlines()[0][:500] if text.strip() else "the tool reported an error"
        return ToolResult(ok=False, output=f"error: {text}", error=error, truncated=truncated)


def _failed(error: str, *, fatal: bool = False) -> ToolResult:
    return ToolResult(ok=False, output=f"error: {error}", error=error, fatal=fatal)


def _text(result: CallToolResult) -> str:
    """The result's content as text: text blocks as they are, other blocks described."""
    parts = [_block(block) for block in result.content]
    if not parts and result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return "\n".join(parts)


def _block(block: ContentBlock) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind == "resource":
        resource = getattr(block, "resource", None)
        text = getattr(resource, "text", None)
        return text if isinstance(text, str) else f"[resource {getattr(resource, 'uri', '')}]"
    if kind == "resource_link":
        return f"[resource link {getattr(block, 'uri', '')}]"
    mime = getattr(block, "mime_type", "") or ""
    return f"[{kind} {mime}]".replace(" ]", "]")
