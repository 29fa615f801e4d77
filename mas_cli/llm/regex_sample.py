"""One string that a regular expression matches, for the offline model's made-up values.

Walks the parsed pattern: literals as written, a class's first member, the fewest repeats
allowed, an alternation's first branch. Look-arounds and back-references are not supported
(None, and the caller falls back to something else).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# The pattern parser behind `re` (public as sre_parse before 3.11, deprecated since).
sre_parse: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")

_CATEGORY = {
    sre_constants.CATEGORY_DIGIT: "0",
    sre_constants.CATEGORY_WORD: "a",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_DIGIT: "a",
    sre_constants.CATEGORY_NOT_WORD: "-",
    sre_constants.CATEGORY_NOT_SPACE: "a",
}
_SKIP = (sre_constants.AT,)


class _Unsupported(Exception):
    pass


def sample(pattern: str) -> str | None:
    """A string `re.search(pattern, s)` accepts, or None when this walker cannot make one."""
    try:
        made = _walk(sre_parse.parse(pattern))
    except (_Unsupported, re.error, RecursionError, TypeError, ValueError):
        return None
    return made if re.search(pattern, made) else None


def _walk(items: Any) -> str:
    return "".join(_one(op, av) for op, av in items)


def _one(op: Any, av: Any) -> str:  # noqa: PLR0911 - one case per opcode
    if op is sre_constants.LITERAL:
        return chr(av)
    if op is sre_constants.IN:
        return _member(av)
    if op is sre_constants.ANY:
        return "a"
    if op is sre_constants.NOT_LITERAL:
        return "b" if av == ord("a") else "a"
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
        low, _high, item = av
        return str(_walk(item) * max(int(low), 0))
    if op is sre_constants.SUBPATTERN:
        return _walk(av[-1])
    if op is sre_constants.BRANCH:
        return _walk(av[1][0])
    if op in _SKIP:
        return ""
    raise _Unsupported(str(op))


def _member(items: Any) -> str:
    op, av = items[0]
    if op is sre_constants.NEGATE:
        excluded = {chr(v) for o, v in items[1:] if o is sre_constants.LITERAL}
        return next(c for c in "a0-_ xyz" if c not in excluded)
    if op is sre_constants.LITERAL:
        return chr(av)
    if op is sre_constants.RANGE:
        return chr(av[0])
    if op is sre_constants.CATEGORY:
        return _CATEGORY.get(av, "a")
    raise _Unsupported(str(op))
