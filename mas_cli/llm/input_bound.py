"""A true upper bound of the input tokens a server will count for one request.

Our own token count is an estimate (a server may use another tokenizer, render tools and
`response_format` its own way, and wrap each message in role markers), so the budget plans
with this instead: the UTF-8 size of the whole request body as sent, plus framing. A token of
a byte-level BPE (or SentencePiece with byte fallback) covers at least one byte of text, and
the JSON body holds every text the server tokenizes, escaped, so it is never shorter; what the
body does not hold are the template's special tokens (a few per message and per tool) and the
tool-use system prompt a provider adds when tools are given (Anthropic documents 346 tokens).
"""

from __future__ import annotations

import json
from typing import Any

from mas_cli.llm.types import Request

FRAMING_PER_ITEM = 16  # role markers and separators around each message and each tool
FRAMING_PER_REQUEST = 64  # begin/end of the conversation, the assistant's turn header
TOOL_PROMPT = 1024  # a provider's hidden system prompt for tool use (Anthropic: 346 tokens)


def wire_body(request: Request) -> dict[str, Any]:
    """The body this request's provider sends (OpenAI's format for offline and replay)."""
    if request.model.provider == "anthropic":
        from mas_cli.llm.anthropic_wire import request_body as anthropic_body

        return anthropic_body(request)
    from mas_cli.llm.openai_wire import request_body

    return request_body(request)


def input_bound(request: Request) -> int:
    """At least the input tokens any server can count for this request."""
    body = wire_body(request)
    size = len(json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    items = len(body.get("messages") or ()) + len(request.tools) + 1  # + 1: the system prompt
    hidden = TOOL_PROMPT if request.tools else 0
    return size + FRAMING_PER_ITEM * items + FRAMING_PER_REQUEST + hidden
