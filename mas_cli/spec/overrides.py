"""Limits given on the command line (`--limit max_llm_calls=40`), laid over a crew file's:
`mas run` and `mas resume` take them alike."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mas_cli.errors import UsageError
from mas_cli.records import replace
from mas_cli.spec.findings import did_you_mean
from mas_cli.spec.loader import Crew
from mas_cli.spec.models import Limits


def with_limits(crew: Crew, pairs: tuple[str, ...]) -> Crew:
    """The crew with each `NAME=VALUE` laid over its limits.

    Raises:
        UsageError: not NAME=VALUE, an unknown limit (with a did-you-mean), a bad value.
    """
    if not pairs:
        return crew
    values: dict[str, Any] = crew.spec.limits.model_dump(exclude_unset=True)
    values.update(_limit(pair) for pair in pairs)
    try:
        limits = Limits.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(map(str, first["loc"]))
        raise UsageError(f"--limit {name}: {first['msg']}", hint="give a number") from None
    spec = crew.spec.model_copy(update={"limits": limits})
    return replace(crew, spec=spec)


def _limit(pair: str) -> tuple[str, str]:
    """`max_llm_calls=40` -> ("max_llm_calls", "40"), the name checked."""
    name, sep, value = pair.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(
            f"--limit {pair!r} is not NAME=VALUE", hint="e.g. --limit max_llm_calls=40"
        )
    if name not in Limits.model_fields:
        raise UsageError(
            f"--limit {name}: not a limit", hint=did_you_mean(name, Limits.model_fields)
        )
    return name, value.strip()
