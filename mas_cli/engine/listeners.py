"""What a run's listeners may do beyond hearing events: a listener with `attach(warn)` may write
a `warning` into the run's log (the live OpenTelemetry export records its own trouble there),
and one with `settle()` may finish that before `run_finished` (bounded by the listener)."""

from __future__ import annotations

from mas_cli.engine.context import Listener, RunContext
from mas_cli.events.models import Warning_


def let_warn(ctx: RunContext, listeners: tuple[Listener, ...]) -> None:
    """A listener with `attach` (the live OpenTelemetry export) may write a `warning` into the
    log: its own trouble is recorded there, and never stops the run."""

    def warn(message: str) -> None:
        ctx.sink.emit(Warning_(message=message), ctx.run_span)

    for listener in listeners:
        attach = getattr(listener, "attach", None)
        if callable(attach):
            attach(warn)


def settle(listeners: tuple[Listener, ...]) -> None:
    """Before run_finished: a listener with `settle` may still write its warnings (bounded)."""
    for listener in listeners:
        settle = getattr(listener, "settle", None)
        if callable(settle):
            settle()
