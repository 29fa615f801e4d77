"""The one scrubber: every known secret replaced by *** before anything is written or printed.

Known secrets are the values of the key variables a crew's models use, the values of its
models' `headers`, and the value of every environment variable whose name looks secret
(`*KEY*`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, ...). Each value is found as it is and in its
JSON-escaped form. Values shorter than MIN_SECRET_CHARS are not worth scrubbing from text.

Each sink applies it once: the run log's sink, llm.jsonl, output.json and state.json, tool
results (before the cache and the model see them), model answers as they arrive, provider
error messages, and the CLI's error boundary. This module imports nothing of mas, so every
layer may use it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from msgspec import Struct

MIN_SECRET_CHARS = 6  # shorter header values ("1", "yes") are not worth scrubbing from text
MIN_NAMED_CHARS = 8  # a variable named like a secret must hold at least this much to count
MASK = "***"
SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|PASSPHRASE|CRED|AUTH|PRIVATE|COOKIE", re.IGNORECASE
)


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*\s+(\S.*)")


def credentials(header_values: Iterable[str]) -> list[str]:
    """Each header value, and the credential after an auth scheme in it (`Bearer sk-...`,
    `Basic dXNl...`): a server that echoes the token alone must not show it."""
    found = []
    for value in header_values:
        found.append(value)
        scheme = _SCHEME.fullmatch(value.strip())
        if scheme:
            found.append(scheme.group(1).strip())
    return found


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret."""
    return bool(SECRET_NAME.search(name))


class Secrets(Struct, frozen=True):
    """Values that must never appear in anything mas writes, prints or sends back to a model."""

    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, *values: str, minimum: int = MIN_SECRET_CHARS) -> Secrets:
        """These values, the short ones left out."""
        return Secrets().plus(values, minimum=minimum)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        """The values of every variable whose name looks secret."""
        env = os.environ if environ is None else environ
        named = [v.strip() for k, v in env.items() if looks_secret(k)]
        return Secrets.of(*named, minimum=MIN_NAMED_CHARS)

    def plus(self, values: Iterable[str], *, minimum: int = MIN_SECRET_CHARS) -> Secrets:
        """These secrets and more; each secret also in its JSON-escaped form, longest first."""
        found = {*self.values}
        for value in values:
            if len(value) >= minimum:
                found |= {value, json.dumps(value, ensure_ascii=False)[1:-1]}
        return Secrets(tuple(sorted(found, key=lambda v: (-len(v), v))))

    def with_headers(self, headers: Iterable[str]) -> Secrets:
        """These secrets plus a request's own header values (and the credentials in them)."""
        return self.plus(credentials(headers))

    def __add__(self, other: Secrets) -> Secrets:
        return self.plus(other.values, minimum=0)

    def found_in(self, text: str) -> bool:
        """Whether any secret occurs in the text."""
        return any(value in text for value in self.values)

    def scrub(self, text: str) -> str:
        """The text with every secret replaced by ***."""
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def scrub_cut(self, text: str) -> str:
        """A text cut short, scrubbed: also a secret's start at its very end (a secret the cut
        split in two, whose first part `scrub` cannot know), when 4 characters or more."""
        text = self.scrub(text)
        for value in self.values:
            for size in range(len(value) - 1, 3, -1):
                if text.endswith(value[:size]):
                    return text[:-size] + MASK
        return text

    def scrub_value(self, value: Any) -> Any:
        """A JSON-like value with every string scrubbed (tuples come back as lists)."""
        if not self.values:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self.scrub_value(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        return value
