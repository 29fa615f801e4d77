"""How large a token count in a log can be: one bound, for every reader and the writer.

A count past it (a hand-edited `input_tokens` of 2**63, a 31-digit number) or below zero is not
a real count: the line holding it is a bad line, counted and skipped by every reader (cost-report,
show, runs, triage, export, view), never summed. Providers' usage past it is no usage either
(llm/usage.py estimates instead), so mas never writes a count it would refuse to read.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

MAX_TOKENS = 10**12
"""A trillion tokens: no model call or run comes near it, and sums of a million such counts
stay exact in a 64-bit integer and in a float (the view page's JavaScript)."""

Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
"""A token count as the msgspec readers decode it (events/logged.py, formats/mas.py)."""


def token_count(value: int, name: str) -> int:
    """A token count read from another tool's log.

    Raises:
        ValueError: a negative count or one past MAX_TOKENS, so the line is a bad line.
    """
    if not 0 <= value <= MAX_TOKENS:
        raise ValueError(f"{name} {str(value)[:24]} is not a token count (0 to {MAX_TOKENS:,})")
    return value
