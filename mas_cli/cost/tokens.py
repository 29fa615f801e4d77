"""Token counts for text and chat requests, exact for OpenAI models, with no network.

tiktoken downloads its BPE files on first use. We ship `o200k_base` and `cl100k_base` under
`data/` and build tiktoken's encodings from them with tiktoken's own constructors, after
tiktoken's `check_hash` has accepted each file against the SHA-256 tiktoken itself expects.
Nothing is downloaded; the decoded ranks are kept in the user's cache folder (bpecache.py).
tiktoken is imported only when a count is made.

Claude and unknown models have no public tokenizer: their counts are estimates, flagged as such.

Building o200k takes a quarter of a second or more. `prepare` starts that build in a thread
(once per encoding), `ready` awaits it without holding up the event loop, and
`count_messages_bound` answers "at most how many" from sizes alone, with no tokenizer.
"""

from __future__ import annotations

import asyncio
import binascii
import functools
import json
import math
import re
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from mas_cli.cost.approx import approx_len
from mas_cli.errors import MasError

if TYPE_CHECKING:
    import tiktoken

_DATA = Path(__file__).parent / "data"

# First match wins, so the longer OpenAI prefixes come before the bare `gpt-4`.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-5", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-4o", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
)

# A router path (`openrouter/openai/`) and a provider word (`openai:`, `ft:`) before the name.
_PROVIDER_PREFIX = re.compile(r"^(?:.*/)?(?:[a-z]+:)?")

# Claude's tokenizer is not public. Measured on the same inputs it yields about 1.16x the tokens
# of o200k on English prose, 1.2x on maths and 1.3x on code (Claude 3.5 Sonnet vs GPT-4o,
# 2024). 1.2 sits at the top of the prose range, so estimates err towards overcounting, the safe
# side for a budget. Unknown models get the same treatment.
ESTIMATE_FACTOR = 1.2
_ESTIMATE_BASE = "o200k_base"

# Chat framing from OpenAI's cookbook "How to count tokens with tiktoken", which matches the
# API's prompt_tokens for gpt-3.5-turbo, gpt-4 and gpt-4o: each message is wrapped as
# <|start|>{role}\n{content}<|end|>\n, a name costs one more, and the reply is primed with
# <|start|>assistant<|message|>.
PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMER = 3

# Tool schemas, from the same cookbook: the API renders each function as text, which it
# approximates as `name:description` plus `prop:type:description` per top-level property, with
# fixed overheads. Nested objects, `required` and other schema keywords are not counted.
_FUNC_INIT = {"o200k_base": 7, "cl100k_base": 10}
_PROP_INIT = 3
_PROP_KEY = 3
_ENUM_INIT = -3
_ENUM_ITEM = 3
_FUNC_END = 12


class TokenCount(Struct, frozen=True):
    """A token count; `estimate` is true when the model's own tokenizer was not available.

    A count with `estimate` false used the model's exact tokenizer; the chat framing and tool
    schemas around it follow OpenAI's published method, which can drift as models change.
    """

    tokens: int
    estimate: bool


@functools.lru_cache(maxsize=256)
def encoding_name(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model, or None when counts can only be estimated."""
    name = _PROVIDER_PREFIX.sub("", model.strip().lower(), count=1)
    return next((enc for prefix, enc in _PREFIXES if name.startswith(prefix)), None)


def is_estimate(model: str) -> bool:
    """True for Claude and unknown models, whose counts are o200k counts times ESTIMATE_FACTOR."""
    return encoding_name(model) is None


def count_text(text: str, model: str) -> TokenCount:
    """Tokens in `text` for `model`; special-token markers in it count as plain text.
    Past EXACT_MAX_CHARS, the UTF-8 size instead (see upper_bound)."""
    if len(text) > EXACT_MAX_CHARS:
        return TokenCount(_utf8_len(text), estimate=True)
    enc = _encoder(encoding_name(model) or _ESTIMATE_BASE)
    return _result(_len(enc, text), model)


# Past this many characters a text is not tokenized: a 50 MB input took 88 s and 2.7 GB to
# count, only for the budget to refuse it. Its UTF-8 size bounds its tokens from above (every
# token of a byte-level BPE stands for at least one byte), in one pass and no copy.
EXACT_MAX_CHARS = 1 << 20
_PIECE_CHARS = 1 << 16


def _utf8_len(text: str) -> int:
    if text.isascii():
        return len(text)
    pieces = range(0, len(text), _PIECE_CHARS)
    return sum(len(text[i : i + _PIECE_CHARS].encode("utf-8", "surrogatepass")) for i in pieces)


def upper_bound(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    """A bound on a request's prompt tokens from sizes alone: UTF-8 bytes of every text, the
    tools as JSON, and the framing."""
    texts = [
        t
        for m in messages
        for t in (m.get("role"), m.get("name"), m.get("tool_call_id"), *_message_texts(m))
        if isinstance(t, str)
    ]
    framing = (PER_MESSAGE + PER_NAME) * len(messages) + REPLY_PRIMER
    return sum(map(_utf8_len, texts)) + len(json.dumps(tools or [])) + framing


def count_messages(
    messages: list[dict[str, Any]], model: str, tools: list[dict[str, Any]] | None = None
) -> TokenCount:
    """Prompt tokens of a chat request in OpenAI's shape, framing and tool schemas included.

    Args:
        messages: dicts with `role`, `content` (a string, a list of parts, or None), and
            optionally `name`, `tool_call_id` and `tool_calls` (`function.name` and
            `function.arguments`). Only text parts count: images are not counted.
        model: the model name, provider prefix allowed (`openai:gpt-4o`).
        tools: function tools as sent to the API, `{"type": "function", "function": {...}}`.

    Returns:
        The count: exact tokenizer for OpenAI models, with framing that matched the API's
        prompt_tokens in OpenAI's cookbook; tool schemas and tool calls are approximations.
    """
    if _chars(messages) > EXACT_MAX_CHARS:
        return TokenCount(upper_bound(messages, tools), estimate=True)
    name = encoding_name(model) or _ESTIMATE_BASE
    length = functools.partial(_len, _encoder(name))
    return _result(_framed(length, name, messages, tools or []), model)


def count_messages_bound(
    messages: list[dict[str, Any]], model: str, tools: list[dict[str, Any]] | None = None
) -> int:
    """At least `count_messages(...).tokens`, with no tokenizer: the same sum with each text's
    UTF-8 size in place of its tokens (a token stands for at least one byte)."""
    if _chars(messages) > EXACT_MAX_CHARS:
        return upper_bound(messages, tools)
    name = encoding_name(model) or _ESTIMATE_BASE
    return _result(_framed(_utf8_len, name, messages, tools or []), model).tokens


def count_messages_approx(
    messages: list[dict[str, Any]], model: str, tools: list[dict[str, Any]] | None = None
) -> TokenCount:
    """About `count_messages(...)`, with no tokenizer: the same framing with each text counted
    by approx.approx_len. Deterministic; always an estimate, never a bound."""
    name = encoding_name(model) or _ESTIMATE_BASE
    tokens = _framed(approx_len, name, messages, tools or [])
    return TokenCount(_result(tokens, model).tokens, estimate=True)


def count_text_approx(text: str, model: str) -> TokenCount:
    """About `count_text(...)`, with no tokenizer (see count_messages_approx)."""
    return TokenCount(_result(approx_len(text), model).tokens, estimate=True)


def count_messages_floor(
    messages: list[dict[str, Any]], model: str, tools: list[dict[str, Any]] | None = None
) -> int:
    """At most `count_messages(...).tokens`, with no tokenizer: the same sum with each text
    counted as its UTF-8 size over MAX_TOKEN_BYTES, rounded up (no token is longer)."""
    if _chars(messages) > EXACT_MAX_CHARS:
        return upper_bound(messages, tools)  # what count_messages says for such a request

    def floor(text: str) -> int:
        return -(-_utf8_len(text) // MAX_TOKEN_BYTES)

    name = encoding_name(model) or _ESTIMATE_BASE
    return _result(_framed(floor, name, messages, tools or []), model).tokens


# The longest token of o200k_base and cl100k_base, in bytes (tests/test_tokens_floor.py
# recomputes it from the encodings): a text of n bytes is at least n / 128 tokens.
MAX_TOKEN_BYTES = 128


def _framed(
    length: Callable[[str], int],
    name: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
) -> int:
    total = sum(_message_tokens(length, message) for message in messages) + REPLY_PRIMER
    return total + _tools_tokens(length, name, tools)


def _chars(messages: list[dict[str, Any]]) -> int:
    return sum(len(t) for m in messages for t in _message_texts(m) if isinstance(t, str))


def _result(tokens: int, model: str) -> TokenCount:
    if is_estimate(model):
        return TokenCount(math.ceil(tokens * ESTIMATE_FACTOR), estimate=True)
    return TokenCount(tokens, estimate=False)


def _message_tokens(length: Callable[[str], int], message: dict[str, Any]) -> int:
    name = message.get("name")
    texts = (message.get("role"), name, message.get("tool_call_id"), *_message_texts(message))
    named = PER_NAME if name else 0
    return PER_MESSAGE + named + sum(length(t) for t in texts if isinstance(t, str))


def _message_texts(message: dict[str, Any]) -> Iterator[object]:
    content = message.get("content")
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        yield from (p.get("text") for p in content if isinstance(p, dict))
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        yield from (function.get("name", ""), function.get("arguments", ""))


def _tools_tokens(length: Callable[[str], int], name: str, tools: list[dict[str, Any]]) -> int:
    if not tools:
        return 0
    per_function = (_function_tokens(length, tool.get("function", tool)) for tool in tools)
    return sum(_FUNC_INIT[name] + n for n in per_function) + _FUNC_END


def _function_tokens(length: Callable[[str], int], function: dict[str, Any]) -> int:
    description = str(function.get("description", "")).removesuffix(".")
    tokens = length(f"{function.get('name', '')}:{description}")
    properties: dict[str, Any] = (function.get("parameters") or {}).get("properties") or {}
    if properties:
        tokens += _PROP_INIT + sum(_property_tokens(length, k, v) for k, v in properties.items())
    return tokens


def _property_tokens(length: Callable[[str], int], key: str, schema: dict[str, Any]) -> int:
    description = str(schema.get("description", "")).removesuffix(".")
    tokens = _PROP_KEY + length(f"{key}:{schema.get('type', '')}:{description}")
    if "enum" in schema:
        tokens += _ENUM_INIT + sum(_ENUM_ITEM + length(str(v)) for v in schema["enum"])
    return tokens


def _len(enc: tiktoken.Encoding, text: str) -> int:
    # The same texts are counted again and again: every turn recounts the conversation so far,
    # and a batch's items share their system prompts and tool schemas.
    key = (enc.name, text)
    known = _counted.get(key)
    if known is None:
        # encode_ordinary: text that happens to contain "<|endoftext|>" is counted, not refused.
        known = len(enc.encode_ordinary(text))
        if len(text) <= MEMO_MAX_CHARS:
            if len(_counted) >= MEMO_SIZE:  # bounded: memory stays flat over any number of runs
                _counted.clear()
            _counted[key] = known
    return known


MEMO_SIZE = 4096
MEMO_MAX_CHARS = 4096
"""Counts kept: at most MEMO_SIZE texts of at most MEMO_MAX_CHARS characters (~16 MB)."""
_counted: dict[tuple[str, str], int] = {}


_building: dict[str, Future[None]] = {}
_lock = threading.Lock()


def prepare(model: str) -> Future[None]:
    """Start building `model`'s encoding in a thread, once per process; done when it is built."""
    name = encoding_name(model) or _ESTIMATE_BASE
    with _lock:
        if name not in _building:
            future: Future[None] = Future()
            _building[name] = future
            threading.Thread(target=_build, args=(name, future), daemon=True).start()
        return _building[name]


def _build(name: str, future: Future[None]) -> None:
    try:
        _encoding(name)
    except BaseException as exc:  # handed to whoever waits: `ready` or the next count raises it
        future.set_exception(exc)
    else:
        future.set_result(None)


async def ready(model: str) -> None:
    """Wait, without holding up the event loop, until `model`'s encoding is built."""
    await asyncio.wrap_future(prepare(model))


def _encoder(name: str) -> tiktoken.Encoding:
    """The encoding, waiting for its build if a thread is on it rather than building it twice."""
    building = _building.get(name)
    if building is not None:
        building.result()
    return _encoding(name)


@functools.cache
def _encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, built offline from the bundled BPE file."""
    import tiktoken
    from tiktoken_ext import openai_public

    return tiktoken.Encoding(**_offline(getattr(openai_public, name))())


def _offline(constructor: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """tiktoken's own constructor for an encoding, loading the bundled file instead of a URL."""
    # The constructor holds the regex, the special tokens and the expected SHA-256 in its body,
    # so we rerun it against a private copy of its globals with the loader swapped; the shared
    # tiktoken_ext module is left untouched, so this is safe alongside other threads.
    scope = {**constructor.__globals__, "load_tiktoken_bpe": _load_bundled}
    return types.FunctionType(constructor.__code__, scope, constructor.__name__)


def _load_bundled(url: str, expected_hash: str) -> dict[bytes, int]:
    """The ranks of the bundled copy of `url`, once tiktoken's own check_hash accepts it.

    Parsed in C-level passes: tiktoken's loader decodes its 200,000 lines one by one in Python
    (about half a second a process) and copies the file into its cache folder first. Once
    decoded, the ranks are kept pickled (bpecache.py), which later processes load 3x faster.
    """
    from tiktoken.load import check_hash

    from mas_cli.cost import bpecache

    cached = bpecache.load(expected_hash)
    if cached is not None:
        return cached
    path = _DATA / url.rsplit("/", 1)[-1]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unloadable(path, str(exc)) from exc
    if not check_hash(data, expected_hash):
        raise _unloadable(path, f"its SHA-256 is not the {expected_hash} tiktoken expects")
    fields = data.split()
    ranks = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))
    bpecache.store(expected_hash, ranks)
    return ranks


def _unloadable(path: Path, why: str) -> MasError:
    return MasError(
        f"cannot load the bundled tokenizer file {path}: {why}",
        hint="reinstall mas-cli; if tiktoken was upgraded, check it still expects this file",
    )
