"""The loop detectors' thresholds: defaults, a crew file's `triage:` section, `--threshold`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from msgspec import Struct

from mas_cli.errors import UsageError
from mas_cli.records import replace


class Thresholds(Struct, frozen=True):
    """Past each of these, a detector reports a finding (at twice it, most are errors)."""

    turns: int = 5
    """Turns of one agent on one task (or in one trace)."""
    invocations_per_minute: int = 10
    """Invocations of one agent within one minute."""
    repeated_calls: int = 3
    """Calls of the same tool with the same arguments in one trace."""
    repeated_failures: int = 3
    """The same call failing the same way in one trace."""
    ping_pong: int = 6
    """Steps of a period-2 alternation, between agents or between tool calls."""
    cycle_rounds: int = 3
    """Rounds of a cycle among three agents or more (each agent acting once a round)."""
    monologue: int = 3
    """The same model output, this many times running."""
    growth_turns: int = 5
    """Turns before a steady rise of input tokens is judged."""
    growth_tokens: int = 500
    """Input tokens added per turn, at least, for the rise to count as a blow-up."""
    context_window: int = 0
    """The model's context window in tokens (0: known models' own, else 128,000)."""


NAMES = Thresholds.__struct_fields__


def build(crew_section: Mapping[str, int] | None, overrides: Iterable[str]) -> Thresholds:
    """Defaults, then the crew file's `triage:` section, then each `--threshold NAME=VALUE`.

    Raises:
        UsageError: an override that is not NAME=VALUE, names no threshold, or is not a number.
    """
    values = Thresholds()
    if crew_section:
        values = replace(values, **{k: int(v) for k, v in crew_section.items() if v is not None})
    for item in overrides:
        name, value = _parse(item)
        values = replace(values, **{name: value})
    return values


def _parse(item: str) -> tuple[str, int]:
    name, sep, value = item.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        raise UsageError(f"--threshold {item!r} is not NAME=VALUE", hint="e.g. --threshold turns=8")
    if name not in NAMES:
        from mas_cli.spec.findings import did_you_mean  # PyYAML comes with it: only on a typo

        hint = did_you_mean(name, NAMES)
        raise UsageError(f"--threshold: {name!r} is not a threshold", hint=hint)
    try:
        number = int(float(value))
    except ValueError:
        raise UsageError(
            f"--threshold {name}={value!r}: not a number", hint=f"e.g. --threshold {name}=8"
        ) from None
    if number < 0:
        raise UsageError(f"--threshold {name}={number}: must be 0 or more")
    return name, number
