"""Which environment variable holds a model's key, and the key itself, read when a client is made.

The rule, documented in the README:
- `api_key_env` set: that variable must hold the key;
- else `base_url` set (a local or third-party OpenAI-compatible server): no key is sent, only a
  placeholder, so a provider's real key never goes to another host;
- else the provider's own variable, OPENAI_API_KEY or ANTHROPIC_API_KEY.

A key value is never put in a message, an event, a recording or the cache; `Secrets` lets the
providers scrub the values they hold from anything a server echoes back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from mas_cli.errors import UsageError
from mas_cli.spec.models import ModelSpec

DEFAULT_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
NO_KEY = "no-key-needed"  # what a key-less local server receives; the SDKs insist on some key
MIN_SECRET_CHARS = 6  # shorter header values ("1", "yes") are not worth scrubbing from text


class MissingKey(UsageError):
    """A model's key variable is not set."""

    def __init__(self, env: str, crew: str = "CREW.yaml", others: tuple[str, ...] = ()) -> None:
        offline = f"or run offline: mas run {crew} --offline"
        if others:  # every key the crew needs, not one at a time
            names = f"{', '.join((env, *others[:-1]))} and {others[-1]}"
            super().__init__(f"{names} are not set. Export them, {offline}")
        else:
            super().__init__(f"{env} is not set. Export it, {offline}")
        self.env = env


def key_env(model: ModelSpec) -> str | None:
    """The variable holding this model's key; None when it needs no key."""
    if model.api_key_env:
        return model.api_key_env
    if model.base_url:
        return None
    return DEFAULT_ENV.get(model.provider)


def missing_key(model: ModelSpec) -> str | None:
    """The variable this model needs that is unset or empty, if any."""
    env = key_env(model)
    return env if env and not os.environ.get(env, "").strip() else None


def api_key(model: ModelSpec) -> str:
    """The key to send (a placeholder when none is needed).

    Raises:
        MissingKey: the variable is unset or empty.
    """
    env = key_env(model)
    if env is None:
        return NO_KEY
    value = os.environ.get(env, "").strip()
    if not value:
        raise MissingKey(env)
    return value


@dataclass(frozen=True)
class Secrets:
    """Values that must never appear in anything mas writes or prints."""

    values: tuple[str, ...]

    @classmethod
    def of(cls, key: str, headers: Iterable[str] = ()) -> Secrets:
        """The key (unless a placeholder) and every header value long enough to matter."""
        found = [v for v in (key, *headers) if v != NO_KEY and len(v) >= MIN_SECRET_CHARS]
        return cls(tuple(sorted(set(found), key=len, reverse=True)))

    def with_headers(self, headers: Iterable[str]) -> Secrets:
        """These secrets plus a request's own header values."""
        extra = [v for v in headers if len(v) >= MIN_SECRET_CHARS]
        return Secrets(tuple(sorted({*self.values, *extra}, key=len, reverse=True)))

    def scrub(self, text: str) -> str:
        """The text with every secret replaced by ***."""
        for value in self.values:
            text = text.replace(value, "***")
        return text
