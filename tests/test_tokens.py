"""Token counting: exact counts from the bundled BPE files, never the network."""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mas_cli.cost import tokens
from mas_cli.cost.tokens import TokenCount, count_messages, count_text, encoding_name, is_estimate
from mas_cli.errors import MasError

ROOT = Path(__file__).resolve().parents[1]

# The cookbook "How to count tokens with tiktoken" checked these against the API's prompt_tokens.
COOKBOOK_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]
WEATHER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
WEATHER_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


class NetworkForbiddenError(Exception):
    """Raised by the patched socket functions: these tests must never reach the network."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkForbiddenError("token counting tried to reach the network")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test here runs with sockets refused and an empty tiktoken cache."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


@pytest.mark.parametrize(
    ("text", "o200k", "cl100k"),
    [
        ("hello world", 2, 2),
        ("", 0, 0),
        ("Hello, world!\n", 4, 4),
        ("def add(a, b):\n    return a + b\n", 12, 12),
        ("<|endoftext|>", 7, 7),  # a special-token marker in user text is plain text
        ("naïve café 東京 🚀", 7, 10),
        ("お誕生日おめでとう", 8, 9),  # cookbook: 9 under cl100k_base
        ("tiktoken is great!", 6, 6),  # cookbook: 6 under cl100k_base
        ("antidisestablishmentarianism", 6, 6),  # cookbook: 6 under cl100k_base
        ("2 + 2 = 4", 7, 7),  # cookbook: 7 under cl100k_base
    ],
)
def test_count_text_is_exact_under_both_encodings(text: str, o200k: int, cl100k: int) -> None:
    assert count_text(text, "gpt-4o") == TokenCount(o200k, estimate=False)
    assert count_text(text, "gpt-4") == TokenCount(cl100k, estimate=False)


def test_token_ids_match_published_values() -> None:
    # Published ids: the cookbook's for cl100k_base, tiktoken's README example for o200k_base.
    cl100k = tokens._encoding("cl100k_base")
    assert cl100k.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert cl100k.encode("hello world") == [15339, 1917]
    assert tokens._encoding("o200k_base").encode("hello world") == [24912, 2375]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-32k-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("openai:gpt-4.1", "o200k_base"),
        ("openrouter/openai/gpt-4", "cl100k_base"),
        ("ft:gpt-4o-mini:acme::abc123", "o200k_base"),
        ("  GPT-4O  ", "o200k_base"),
        ("claude-sonnet-4-5", None),
        ("anthropic:claude-3-5-haiku", None),
        ("llama-3-70b", None),
        ("", None),
    ],
)
def test_model_to_encoding(model: str, expected: str | None) -> None:
    assert encoding_name(model) == expected
    assert is_estimate(model) is (expected is None)


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "anthropic/claude-opus-4", "mystery-7b"])
def test_claude_and_unknown_models_get_a_flagged_estimate(model: str) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 10
    exact = count_text(text, "gpt-4o").tokens
    expected = math.ceil(exact * tokens.ESTIMATE_FACTOR)
    assert count_text(text, model) == TokenCount(expected, estimate=True)
    assert count_messages([{"role": "user", "content": text}], model).estimate is True


def test_message_count_is_content_plus_documented_overheads() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "name": "ana", "content": [{"type": "text", "text": "Hi there"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "refunds"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "30 days"},
    ]
    texts = [
        "system", "Be brief.",
        "user", "ana", "Hi there",
        "assistant", "lookup", '{"q": "refunds"}',
        "tool", "call_1", "30 days",
    ]  # fmt: skip
    content = sum(count_text(t, "gpt-4o").tokens for t in texts)
    overheads = 4 * tokens.PER_MESSAGE + tokens.PER_NAME + tokens.REPLY_PRIMER
    assert count_messages(messages, "gpt-4o") == TokenCount(content + overheads, estimate=False)


def test_non_text_parts_are_not_counted() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with_image = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}]
    plain = [{"role": "user", "content": "What is it?"}]
    assert count_messages(with_image, "gpt-4o") == count_messages(plain, "gpt-4o")


@pytest.mark.parametrize(("model", "expected"), [("gpt-4", 129), ("gpt-4o-mini", 124)])
def test_messages_match_the_cookbook_api_counts(model: str, expected: int) -> None:
    assert count_messages(COOKBOOK_MESSAGES, model).tokens == expected


@pytest.mark.parametrize(("model", "expected"), [("gpt-3.5-turbo", 105), ("gpt-4o", 101)])
def test_tool_schemas_match_the_cookbook_api_counts(model: str, expected: int) -> None:
    without = count_messages(WEATHER_MESSAGES, model).tokens
    with_tools = count_messages(WEATHER_MESSAGES, model, tools=WEATHER_TOOLS).tokens
    assert with_tools == expected
    assert with_tools > without


def test_more_tools_cost_more_tokens() -> None:
    bare = {"type": "function", "function": {"name": "ping", "parameters": {}}}
    one = count_messages(WEATHER_MESSAGES, "gpt-4o", tools=WEATHER_TOOLS).tokens
    two = count_messages(WEATHER_MESSAGES, "gpt-4o", tools=[*WEATHER_TOOLS, bare]).tokens
    assert two > one
    assert count_messages(WEATHER_MESSAGES, "gpt-4o", tools=[]).tokens < one


def test_counts_offline_from_the_bundled_files(no_network: Path) -> None:
    tokens._encoding.cache_clear()
    try:
        assert count_text("hello world", "gpt-5").tokens == 2
        assert count_text("naïve café 東京 🚀", "gpt-3.5-turbo").tokens == 10
    finally:
        tokens._encoding.cache_clear()


def test_the_fixture_really_blocks_tiktokens_download() -> None:
    import tiktoken

    with pytest.raises(NetworkForbiddenError):
        tiktoken.get_encoding("r50k_base")  # not bundled: tiktoken would download it


def test_a_tampered_file_fails_the_hash_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(tokens._DATA / "cl100k_base.tiktoken", data)
    with (data / "cl100k_base.tiktoken").open("ab") as f:
        f.write(b"IQ== 100256\n")
    monkeypatch.setattr(tokens, "_DATA", data)
    with pytest.raises(MasError, match="reinstall mas-cli"):
        tokens._encoding.__wrapped__("cl100k_base")


def test_importing_the_module_does_not_import_tiktoken() -> None:
    code = (
        "import sys\n"
        "from mas_cli.cost import tokens\n"
        "assert 'tiktoken' not in sys.modules, 'imported at module level'\n"
        "assert tokens.encoding_name('gpt-4o') == 'o200k_base'\n"
        "assert 'tiktoken' not in sys.modules, 'imported by a lookup'\n"
        "tokens.count_text('hi', 'gpt-4o')\n"
        "assert 'tiktoken' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_bundled_ranks_equal_tiktokens_own_loader(name: str) -> None:
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext import openai_public

    expected = openai_public.__dict__[name].__code__.co_consts  # the hash lives in the constructor
    digest = next(c for c in expected if isinstance(c, str) and len(c) == 64)
    path = tokens._DATA / f"{name}.tiktoken"
    assert tokens._load_bundled(f"https://x/{name}.tiktoken", digest) == load_tiktoken_bpe(
        str(path), digest
    )


def test_loading_writes_nothing_to_tiktokens_cache(no_network: Path) -> None:
    tokens._encoding.__wrapped__("cl100k_base")
    assert list(no_network.iterdir()) == []  # works with a read-only or absent cache folder
