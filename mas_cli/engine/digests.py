"""The short digest the run log's `*_digest` fields hold (sha256 of canonical JSON, 16 hex).

A leaf: the context, the recording's readers and the resume all use it without importing
each other.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def digest(value: Any) -> str:
    """A short, stable digest of a JSON-able value (canonical: sorted keys)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
