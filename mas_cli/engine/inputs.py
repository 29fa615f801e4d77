"""A run's inputs: the values given over the crew's defaults, checked before anything runs."""

from __future__ import annotations

from typing import Any

from mas_cli.errors import UsageError
from mas_cli.spec.findings import did_you_mean
from mas_cli.spec.models import CrewSpec


def resolve_inputs(spec: CrewSpec, given: dict[str, Any]) -> dict[str, Any]:
    """Given values over defaults; unknown names and missing required inputs are usage errors."""
    unknown = sorted(set(given) - set(spec.inputs))
    if unknown:
        hint = did_you_mean(unknown[0], spec.inputs) or "this crew takes no inputs"
        raise UsageError(
            f"unknown input{'s' * (len(unknown) > 1)}: {', '.join(unknown)}", hint=hint
        )
    values = {name: given.get(name, item.default) for name, item in spec.inputs.items()}
    missing = [n for n, item in spec.inputs.items() if item.is_required() and values[n] is None]
    if missing:
        described = "; ".join(
            f"{n}: {spec.inputs[n].description or 'no description'}" for n in missing
        )
        example = " ".join(f"--input {n}=..." for n in missing)
        raise UsageError(
            f"missing required input{'s' * (len(missing) > 1)}: {described}", hint=f"give {example}"
        )
    return values
