"""How a local batch's workers divide the crew's rate limits: each takes 1/N of every limit,
so together they never pass one; and never more workers than the smallest limit, so no share
is rounded up to one request (or token) a minute that the limit does not have."""

from __future__ import annotations

from typing import Any

from mas_cli.spec.models import CrewSpec


def most_workers(spec: CrewSpec, wanted: int) -> int:
    """`wanted` workers, or fewer: no more than the smallest rpm or tpm the crew declares."""
    limits = [n for rate in spec.rate_limits.values() for n in (rate.rpm, rate.tpm) if n]
    return max(1, min([wanted, *limits]))


def share(spec: CrewSpec, workers: int) -> CrewSpec:
    """The crew with each rate limit divided among `workers` (see most_workers)."""
    if workers <= 1 or not spec.rate_limits:
        return spec
    rates: dict[str, Any] = {}
    for key, rate in spec.rate_limits.items():
        rpm = None if rate.rpm is None else max(1, rate.rpm // workers)
        tpm = None if rate.tpm is None else max(1, rate.tpm // workers)
        rates[key] = rate.model_copy(update={"rpm": rpm, "tpm": tpm})
    return spec.model_copy(update={"rate_limits": rates})
