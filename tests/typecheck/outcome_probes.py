"""Outcomes that must stay type errors: mypy checks this file (pyproject's `files`).

`Stopped` once meant both "a limit stopped it" and "it failed"; now a stop carries its limit
hit and a failure is `Failed(reason)`. Each line below is a mistake that mixes them up,
silenced with the exact error code mypy gives it; `warn_unused_ignores` makes mypy fail the day
one of them type-checks. The file is never run.
"""

from __future__ import annotations

from mas_cli.engine.outcomes import Failed, LimitHit, Stopped


def a_stop_without_its_limit() -> Stopped:
    """A failure dressed as a stop: no limit hit to name."""
    return Stopped(None)  # type: ignore[arg-type]


def a_stop_with_a_reason_for_a_limit() -> Stopped:
    """A reason string where the hit goes."""
    return Stopped("the model call failed")  # type: ignore[arg-type]


def a_failure_with_a_limit() -> Failed:
    """A limit hit where a failure's reason goes."""
    return Failed(LimitHit("max_turns", 5, 5, "task"))  # type: ignore[arg-type]


def a_limit_of_no_known_kind() -> LimitHit:
    """The limit kind is a Literal: a misspelled kind is an error, not a new kind."""
    return LimitHit("max_turn", 5, 5, "task")  # type: ignore[arg-type]
