"""The cache key: exactly what determines a deterministic tool's output, and nothing else.

    key = sha256(tool name, tool fingerprint (its code or argv, and `version:`),
                 max_output_bytes (a cut output differs), canonical JSON of the arguments)

Never environment values, secrets or timeouts. The arguments are taken with the schema's
defaults filled in, so `{"query": "x"}` and `{"query": "x", "limit": 2}` (limit defaulting to 2)
share an entry.
"""

from __future__ import annotations

import json
import math
from typing import Any

from msgspec import Struct

from mas_cli.records import asdict
from mas_cli.tools.base import Tool, parts_digest, with_defaults


class KeyInputs(Struct, frozen=True):
    """Everything a cache key is made of, stored beside each entry so a miss can be explained."""

    tool: str
    fingerprint: str
    """Tool.fingerprint(): the code or argv and the files it names, plus `version:`."""
    version: str
    """The crew file's `version:` for the tool ("" when absent); also inside the fingerprint."""
    max_output_bytes: int
    arguments: str
    """Canonical JSON of the arguments, defaults filled in."""

    @property
    def digest(self) -> str:
        """The key's sha256 hex: what events show as cache_key."""
        return parts_digest(
            "mas-tool-cache-v1",
            self.tool,
            self.fingerprint,
            self.version,
            str(self.max_output_bytes),
            self.arguments,
        )

    @property
    def key(self) -> str:
        """The key in the store: the tool name first, so one tool's entries can be listed."""
        return f"{self.tool}/{self.digest}"

    def to_dict(self) -> dict[str, Any]:
        """The inputs as a JSON-able mapping."""
        return asdict(self)


def cacheable(tool: Tool) -> bool:
    """Only tools declared deterministic are cached; live and side_effect tools never are."""
    return tool.spec.effective_kind == "deterministic"


def key_inputs(tool: Tool, arguments: dict[str, Any]) -> KeyInputs:
    """The key inputs of one call of this tool.

    Raises:
        ValueError: the arguments cannot be written as JSON (such a call is not cached).
    """
    return KeyInputs(
        tool=tool.name,
        fingerprint=tool.fingerprint(),
        version=tool.spec.version or "",
        max_output_bytes=tool.spec.max_output_bytes,
        arguments=canonical_json(with_defaults(tool.parameters, normalized(arguments))),
    )


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces, and integral floats written as integers (1.0 -> 1).

    Raises:
        ValueError: the value holds something JSON cannot express.
    """
    try:
        return json.dumps(
            normalized(value),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,  # NaN is not JSON; such arguments are refused, and never cached
        )
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def normalized(value: Any) -> Any:
    """A copy with integral floats as integers: what a cached tool is called with.

    A cached tool sees exactly the arguments its key was made from, so `1` and `1.0`, which
    the key does not tell apart, cannot give different outputs (a command gets "1" for both).
    """
    if isinstance(value, dict):
        return {str(k): normalized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalized(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)  # JSON does not tell 1 from 1.0, and neither does a schema's integer
    return value
