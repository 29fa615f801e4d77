"""Usage as each provider reports it, normalized to one meaning.

    input_tokens        every input token, cached ones included
    cache_read_tokens   part of input_tokens: read from the provider's prompt cache
    cache_write_tokens  part of input_tokens: written to it (Anthropic)
    output_tokens       every output token, reasoning included
    reasoning_tokens    part of output_tokens

OpenAI's `prompt_tokens` already includes `prompt_tokens_details.cached_tokens`; Anthropic's
`input_tokens` excludes `cache_read_input_tokens` and `cache_creation_input_tokens`, so they
are added. The provider's own usage object is kept as `raw`. A server that reports no usage
(some OpenAI-compatible ones) gets an estimate from the tokenizer, marked as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mas_cli.cost.tokens import (
    TokenCount,
    count_messages,
    count_messages_approx,
    count_text,
    count_text_approx,
)
from mas_cli.llm.convert import openai_messages, openai_tools
from mas_cli.llm.types import Message, Request, Usage


def openai_usage(raw: Any) -> Usage | None:
    """Chat-completions usage; None when the response has none."""
    if not isinstance(raw, dict):
        return None
    prompt = _part(raw, "prompt_tokens_details")
    completion = _part(raw, "completion_tokens_details")
    return Usage(
        input_tokens=_int(raw, "prompt_tokens"),
        output_tokens=_int(raw, "completion_tokens"),
        cache_read_tokens=_int(prompt, "cached_tokens"),
        reasoning_tokens=_int(completion, "reasoning_tokens"),
        source="provider",
        raw=raw,
    )


def anthropic_usage(raw: Any) -> Usage | None:
    """Messages usage; None when the response has none."""
    if not isinstance(raw, dict):
        return None
    read = _int(raw, "cache_read_input_tokens")
    write = _int(raw, "cache_creation_input_tokens")
    return Usage(
        input_tokens=_int(raw, "input_tokens") + read + write,
        output_tokens=_int(raw, "output_tokens"),
        cache_read_tokens=read,
        cache_write_tokens=write,
        source="provider",
        raw=raw,
    )


def estimated_usage(request: Request, message: Message) -> Usage:
    """Tokens counted from the request and the answer with the model's tokenizer."""
    return _usage(request, message, count_messages, count_text)


def offline_usage(request: Request, message: Message) -> Usage:
    """The offline model's usage: the same texts as estimated_usage, counted without a
    tokenizer (cost.approx), so an offline run builds none."""
    return _usage(request, message, count_messages_approx, count_text_approx)


def _usage(
    request: Request,
    message: Message,
    count_prompt: Callable[[list[dict[str, Any]], str, list[dict[str, Any]] | None], TokenCount],
    count_answer: Callable[[str, str], TokenCount],
) -> Usage:
    model = request.model.model
    messages = openai_messages(request.system, request.messages)
    prompt = count_prompt(messages, model, openai_tools(request.tools) or None)
    answer = message.content + "".join(c.name + json.dumps(c.arguments) for c in message.tool_calls)
    return Usage(
        input_tokens=prompt.tokens,
        output_tokens=count_answer(answer, model).tokens,
        source="estimate",
    )


def _part(raw: dict[str, Any], key: str) -> dict[str, Any]:
    part = raw.get(key)
    return part if isinstance(part, dict) else {}


def _int(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
