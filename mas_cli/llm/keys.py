"""Which environment variable holds a model's key, and the key itself, read when a client is made.

The rule, documented in the README:
- `api_key_env` set: that variable must hold the key;
- else `base_url` set (a local or third-party OpenAI-compatible server): no key is sent, only a
  placeholder, so a provider's real key never goes to another host;
- else the provider's own variable (mas_cli.spec.providers): OPENAI_API_KEY, ANTHROPIC_API_KEY.

A key value is never put in a message, an event, a recording or the cache: `crew_secrets` gives
the run's one scrubber (mas_cli.redact) every key and header value a crew's models use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from urllib.parse import SplitResult, unquote, urlsplit

from mas_cli.errors import UsageError
from mas_cli.redact import Secrets, credentials
from mas_cli.spec.mcp import secret_values as mcp_secrets
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.models import CrewSpec
from mas_cli.spec.providers import PROVIDERS, key_variables

NO_KEY = "no-key-needed"  # what a key-less local server receives; the SDKs insist on some key


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
    return PROVIDERS[model.provider].key_env


def base_url(model: ModelSpec) -> str | None:
    """The URL the SDK is given: the model's base_url, else the provider's official endpoint."""
    return model.base_url or PROVIDERS[model.provider].official_url


def endpoint(model: ModelSpec) -> str | None:
    """Where a model's calls go, for the run log: scheme://host[:port]/path, no credentials."""
    url = base_url(model)
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if _port(parts) else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:  # a port that is not a number: the SDK will fail on it, not the log
        return None


def missing_key(model: ModelSpec) -> str | None:
    """The variable this model needs that is unset or empty, if any."""
    env = key_env(model)
    return env if env and not os.environ.get(env, "").strip() else None


def api_key(model: ModelSpec) -> str:
    """The key to send (a placeholder when none is needed).

    Raises:
        MissingKey: the variable is unset or empty.
        UsageError: the key holds a character that is not printable ASCII.
    """
    env = key_env(model)
    if env is None:
        return NO_KEY
    value = os.environ.get(env, "").strip()
    if not value:
        raise MissingKey(env)
    if not value.isascii() or not value.isprintable():
        # An HTTP header carries printable ASCII only; never show the key, only where it breaks.
        at = next(i for i, c in enumerate(value) if not (c.isascii() and c.isprintable()))
        raise UsageError(
            f"{env} holds a character an HTTP header cannot carry (at position {at + 1})",
            hint="a key is printable ASCII: copy it again from the provider's console",
        )
    return value


def provider_secrets(key: str, headers: Iterable[str] = ()) -> Secrets:
    """What one provider client holds: its key (unless a placeholder) and its header values."""
    return Secrets.of(*(v for v in (key, *credentials(headers)) if v != NO_KEY))


def model_keys(spec: CrewSpec, environ: Mapping[str, str] | None = None) -> Secrets:
    """Every key a crew's models may send (the providers' own variables included) and every
    value of their `headers`."""
    env = os.environ if environ is None else environ
    names = {*key_variables(), *(e for m in spec.models.values() if (e := key_env(m)))}
    keys = [env.get(name, "").strip() for name in names]
    headers = credentials(v for m in spec.models.values() for v in m.headers.values())
    return Secrets.of(*keys, *headers, *(p for m in spec.models.values() for p in _url_password(m)))


def _url_password(model: ModelSpec) -> tuple[str, str]:
    """A password written into base_url (https://user:pass@host), which is a key too: as
    written and percent-decoded (`p%40ss` is sent, and echoed, as `p@ss`)."""
    written = (urlsplit(model.base_url).password or "") if model.base_url else ""
    return written, unquote(written)


def crew_secrets(spec: CrewSpec, environ: Mapping[str, str] | None = None) -> Secrets:
    """Every secret a run knows: its models' keys and header values, what its MCP servers are
    given (env: and headers: values, `${VAR}` values), and the value of every variable whose
    name looks secret."""
    servers = Secrets.of(*mcp_secrets(spec, environ))
    return Secrets.from_environment(environ) + model_keys(spec, environ) + servers
