"""Where spans are sent: an OTLP/HTTP endpoint, checked before anything is sent.

The URL may carry credentials (`https://user:token@host`, `?api_key=...`) and the headers
(`OTEL_EXPORTER_OTLP_HEADERS`, or its traces-only variable) carry tokens: none of them is ever
shown. `shown` is the URL with its credentials and query values as `***`, and `scrub` masks
every such value in a message before it reaches the terminal or the run's log, whatever the
HTTP library or the collector put in it. A header the exporter could not send (not
`name=value`, a value that is not printable ASCII once URL-decoded) is a usage error naming the
variable and the header, never its value: the SDK would drop it, or fail quoting it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from mas_cli.errors import UsageError
from mas_cli.redact import MASK, Secrets, credentials

TRACES_PATH = "/v1/traces"
HEADER_VARS = ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
TIMEOUT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
_NAME = re.compile(r"[!#-'*+\-.0-9A-Z^-z|~]+")  # an HTTP token (the spec's key format)
_RAW = re.compile(r"[ !#-+\--:<-\[\]-~]*")  # printable ASCII but the spec's delimiters ",;\\


@dataclass(frozen=True)
class Endpoint:
    """A traces URL to post to, how to show it, and the secrets it and the headers hold."""

    url: str
    shown: str
    secrets: Secrets

    def scrub(self, text: str) -> str:
        """`text` with the URL's credentials and the headers' values masked."""
        return self.secrets.scrub(text.replace(self.url, self.shown))


def parse_endpoint(given: str, *, source: str = "--endpoint", as_is: bool = False) -> Endpoint:
    """The endpoint `given` names: a base URL (`/v1/traces` is added, as for
    OTEL_EXPORTER_OTLP_ENDPOINT), or a traces URL used `as_is` (as for
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or one already ending in /v1/traces).

    Raises:
        UsageError: not an http(s) URL with a host, or a header that cannot be sent.
    """
    try:
        parts = urlsplit(given.strip())
        host, _ = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, a bracket left open
        parts, host = urlsplit(""), None
    if parts.scheme not in ("http", "https") or not host:
        plain = given if not re.search(r"[@?#]|\s", given) and len(given) <= 200 else ""
        raise UsageError(
            f"{source}: {plain or 'the value'} is not an http(s) URL with a host",
            hint="give the collector's OTLP/HTTP base URL, e.g. http://localhost:4318",
        )
    path = parts.path if as_is else parts.path.rstrip("/")
    if not as_is and not path.endswith(TRACES_PATH):
        path += TRACES_PATH
    parts = parts._replace(path=path or "/", fragment="")
    given_values = [parts.username or "", parts.password or ""]
    given_values += [pair.partition("=")[2] for pair in parts.query.split("&")]
    found = [v for v in given_values if v] + [unquote(v) for v in given_values if v]
    return Endpoint(urlunsplit(parts), _shown(parts), Secrets.of(*found).plus(_header_values()))


def _shown(parts: SplitResult) -> str:
    """The URL with its user, password and query values as ***."""
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username or parts.password:
        netloc = f"{MASK}@{netloc}"
    masked = [(k, MASK) for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    query = urlencode(masked, safe=MASK)
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=""))


def _header_values() -> list[str]:
    """The values of the headers the exporter will send (and the credentials in them).

    Raises:
        UsageError: a header that is not name=value, or whose value is not printable ASCII.
    """
    var = next((v for v in HEADER_VARS if os.environ.get(v)), None)
    if var is None:
        return []
    values = []
    for entry in re.split(r"[ \t]*,[ \t]*", os.environ[var]):
        name, sep, raw = entry.strip().partition("=")
        if not entry.strip():
            continue
        value = unquote(raw).strip()
        if not sep or not _NAME.fullmatch(name.strip()):
            raise UsageError(
                f"{var}: an entry is not name=value with a header name before the =",
                hint="write name=value pairs separated by commas, e.g. "
                "authorization=Bearer%20TOKEN",
            )
        values += [raw.strip(), value]
        if not (_RAW.fullmatch(raw) and value.isascii() and value.isprintable()):
            raise UsageError(
                f"{var}: the value of header {name.strip().lower()!r} holds a character a "
                'header cannot carry (not printable ASCII, or a bare " , ; \\); not shown',
                hint="an HTTP header value is printable ASCII: copy the token again, "
                "URL-encoding only spaces (%20), commas (%2C) and percent signs (%25)",
            )
    return credentials(v for v in values if v)


def timeout_s(default: float) -> float:
    """How long one export request may take, retries included, in seconds: the OpenTelemetry
    variables give it in milliseconds (the traces-only one first); unset, `default`.

    Raises:
        UsageError: the variable is not a positive number.
    """
    for name in TIMEOUT_VARS:
        text = os.environ.get(name, "").strip()
        if not text:
            continue
        try:
            millis = float(text)
        except ValueError:
            millis = -1.0
        if not 0 < millis < 86_400_000:  # NaN and inf fail too
            raise UsageError(
                f"{name}={text[:20]!r} is not a timeout",
                hint=f"give milliseconds, e.g. {name}=10000, or unset it",
            )
        return millis / 1000
    return default
