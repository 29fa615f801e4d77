"""The replies of a server as the SDK's session reads them, none dropped for the wait.

The SDK drops a message its reader refuses, and the request it answers waits out its timeout
(a start: `start_timeout_s`, with no reason given). Here such a reply is read again, or made an
error for its request that says why.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast

from mas_cli.events.text import fix_text


@contextlib.asynccontextmanager
async def mended(read: Any) -> AsyncIterator[Any]:
    """The server's messages, a reply the SDK's reader refused mended or made an error.

    The SDK drops a reply it cannot read, and its request waits out its timeout (a start:
    `start_timeout_s`, with no reason given). A lone surrogate (`"\\udcff"`, what a Python
    server writes for a file name with a byte that is not UTF-8) is read as U+FFFD; any other
    reply the SDK refuses (nested too deep, not JSON-RPC 2.0) answers its request with why.
    """
    import anyio

    sender, receiver = anyio.create_memory_object_stream[Any](0)

    async def pump() -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            async with read, sender:
                async for item in read:
                    await sender.send(_mend(item))

    async with anyio.create_task_group() as group:
        group.start_soon(pump)
        try:
            yield receiver
        finally:
            group.cancel_scope.cancel()


def _mend(item: Any) -> Any:
    """A refused reply, read again or turned into an error for its request; else as it came."""
    errors = getattr(item, "errors", None) if isinstance(item, Exception) else None
    if not callable(errors):
        return item
    found: list[dict[str, Any]] = list(errors())
    reply = _reply_of(found)
    if reply is None:
        return item
    from mcp.shared.message import SessionMessage
    from mcp.types import PARSE_ERROR, ErrorData, JSONRPCError, jsonrpc_message_adapter

    with contextlib.suppress(ValueError, RecursionError):
        text = fix_text(json.dumps(reply, ensure_ascii=False))
        return SessionMessage(jsonrpc_message_adapter.validate_json(text, by_name=False))
    reason = f"the server's reply could not be read: {found[0].get('msg', 'refused')}"
    error = ErrorData(code=PARSE_ERROR, message=reason)
    return SessionMessage(JSONRPCError(jsonrpc="2.0", id=reply["id"], error=error))


def _reply_of(errors: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The reply (with its id) a refused message was, read by Python's own JSON reader."""
    for error in errors:
        given = error.get("input")
        if isinstance(given, str) and error.get("type") == "json_invalid":
            try:
                given = json.loads(given)
            except (ValueError, RecursionError):
                return None
        is_reply = isinstance(given, dict) and ("result" in given or "error" in given)
        ident = given.get("id") if isinstance(given, dict) else None
        if is_reply and isinstance(ident, int | str) and not isinstance(ident, bool):
            return cast("dict[str, Any]", given)
    return None
