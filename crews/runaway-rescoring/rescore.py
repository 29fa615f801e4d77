"""The rescoring request that the runaway reviewers keep sending each other."""

import itertools

_requests = itertools.count(1)


def request_rescore(reviewer: str, reason: str) -> dict[str, object]:
    """Ask another reviewer to score the claim again, giving a reason."""
    return {
        "queued_for": reviewer,
        "reason": reason,
        "request": next(_requests),
        "status": "pending",
    }
