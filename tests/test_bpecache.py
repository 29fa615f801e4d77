"""The tokenizer's decoded ranks kept on disk: loaded only when they are exactly what we wrote.

A pickle runs code when loaded; the cache unpickles a file only when its SHA-256 is the digest
bpecache.DIGESTS holds for the file tiktoken expects. These tests recompute those digests from
the bundled files, and tamper with the cache in every way we could think of.
"""

from __future__ import annotations

import hashlib
import pickle
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mas_cli.cost import bpecache, tokens

ENCODINGS = ("o200k_base", "cl100k_base")


def _constructor_args(name: str, loader: Callable[[str, str], dict[bytes, int]]) -> Any:
    """Run tiktoken's constructor for `name` with `loader` in place of its file loader."""
    from tiktoken_ext import openai_public

    constructor = getattr(openai_public, name)
    scope = {**constructor.__globals__, "load_tiktoken_bpe": loader}
    return types.FunctionType(constructor.__code__, scope, constructor.__name__)()


def _expected_hash(name: str) -> str:
    seen: list[str] = []

    def loader(url: str, expected_hash: str) -> dict[bytes, int]:
        seen.append(expected_hash)
        return tokens._load_bundled(url, expected_hash)

    _constructor_args(name, loader)
    return seen[0]


def _decoded(name: str) -> dict[bytes, int]:
    """The ranks decoded from the bundled file, never from the cache."""
    import binascii

    fields = (tokens._DATA / f"{name}.tiktoken").read_bytes().split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_digests_are_those_of_the_bundled_files(name: str) -> None:
    """Regenerate: print hashlib.sha256(pickle.dumps(ranks, protocol=5)).hexdigest()."""
    digest = hashlib.sha256(pickle.dumps(_decoded(name), protocol=bpecache.PROTOCOL)).hexdigest()
    assert bpecache.DIGESTS[_expected_hash(name)] == digest, f"{name}: {digest}"


def _cache_file(name: str) -> Path:
    return bpecache._path(bpecache.DIGESTS[_expected_hash(name)])


def test_a_decoded_file_is_kept_and_read_back_without_the_bundled_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = _expected_hash("o200k_base")  # decodes the bundled file once, and keeps it
    assert _cache_file("o200k_base").exists()
    decoded = _decoded("o200k_base")
    monkeypatch.setattr(tokens, "_DATA", tmp_path / "nowhere")  # the bundled file is gone
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    assert tokens._load_bundled(url, expected) == decoded


def _tampered_payload() -> bytes:
    class Boom:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.write_text, (Path(bpecache.folder()) / "PWNED", "ran"))

    return pickle.dumps({b"a": 0, b"boom": Boom()})


TAMPERED: dict[str, Callable[[Path], Any]] = {
    "one byte changed": lambda p: p.write_bytes(p.read_bytes()[:-1] + b"\x00"),
    "cut short": lambda p: p.write_bytes(p.read_bytes()[:1000]),
    "empty": lambda p: p.write_bytes(b""),
    "a pickle that runs code": lambda p: p.write_bytes(_tampered_payload()),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("how", list(TAMPERED))
def test_a_tampered_cache_is_never_unpickled(how: str) -> None:
    expected = _expected_hash("o200k_base")
    TAMPERED[how](_cache_file("o200k_base"))
    assert bpecache.load(expected) is None
    assert not (bpecache.folder() / "PWNED").exists()
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    assert tokens._load_bundled(url, expected) == _decoded("o200k_base")  # from the file


def test_another_tiktoken_expecting_another_file_is_not_answered_from_the_cache() -> None:
    _expected_hash("o200k_base")  # the cache holds o200k
    assert bpecache.load("0" * 64) is None


def test_a_cache_that_cannot_be_written_is_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert _expected_hash("cl100k_base") in bpecache.DIGESTS
    assert not (blocker / "mas").exists()


def test_counts_are_the_same_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Tokens counted twice: once from the bundled file, once from the cache. ünïcödé ✓"
    tokens._encoding.cache_clear()
    first = tokens.count_text(text, "gpt-4o")
    assert _cache_file("o200k_base").exists()
    tokens._encoding.cache_clear()
    monkeypatch.setattr(tokens, "_DATA", Path("/nonexistent"))  # only the cache can answer
    try:
        assert tokens.count_text(text, "gpt-4o") == first
    finally:
        tokens._encoding.cache_clear()
