"""How a run is stopped from outside, and how its end is kept from being cut short.

SIGINT, SIGTERM and SIGHUP (or a batch's stop event) and run_timeout_s set the run's stop event,
and the scheduler winds down from there. Once the run's handlers come off, a Ctrl-C, SIGTERM or
SIGHUP is noted, not raised, until the run has written its end and closed everything; then the
handlers it found are back.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from mas_cli.engine.context import RunContext
from mas_cli.engine.outcomes import LimitHit

# SIGHUP: the terminal or ssh session the run was started from went away; `nohup` ignores it.
STOPS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


def answered() -> tuple[signal.Signals, ...]:
    """Those of SIGINT, SIGTERM and SIGHUP that mas answers. One ignored when it started stays
    ignored, as Python itself leaves it: a script that puts a job in the background (`mas run
    ... &`) has it ignore SIGINT, so that a Ctrl-C meant for the script does not stop the job;
    `nohup` has it ignore SIGHUP."""
    return tuple(sig for sig in STOPS if signal.getsignal(sig) is not signal.SIG_IGN)


@contextmanager
def stops_given_back() -> Iterator[None]:
    """Whatever SIGINT, SIGTERM and SIGHUP handlers the run's end left, the ones found here
    are back at the exit."""
    previous = {sig: signal.getsignal(sig) for sig in STOPS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)


def install_stops(
    ctx: RunContext, interrupted: list[str], outside: asyncio.Event | None
) -> Callable[[], None]:
    """SIGINT/SIGTERM (or, when given, the `outside` event of the runs' owner) and
    run_timeout_s set the stop event; the scheduler winds down from there."""
    loop = asyncio.get_running_loop()
    timeout = ctx.crew.spec.limits.run_timeout_s

    def on_timeout() -> None:
        ctx.limit_hit(LimitHit("run_timeout_s", timeout, timeout, "run"), ctx.run_span)

    def on_signal(name: str) -> None:
        interrupted.append(name)
        ctx.stop.set()

    timer = loop.call_later(timeout, on_timeout)
    if outside is not None:
        return _watch(outside, lambda: on_signal("its batch's stop"), timer)
    signals = answered()
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig.name)

    def undo() -> None:
        timer.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)
        # The run is over and ending: a Ctrl-C now is noted, not raised in the middle of
        # writing run_finished, output.json and closing the logs and servers (a
        # KeyboardInterrupt there could leave a half-closed run and an exit of 1); so are
        # SIGTERM and SIGHUP, whose default action, which removing the loop's handlers gives
        # back, would kill the run before its end is written (the end may wait a second or
        # more: for the spans of a live export, for MCP servers to close). run_crew gives
        # the handlers back once all is closed.
        for sig in signals:
            signal.signal(sig, _noting(interrupted))

    return undo


def _noting(interrupted: list[str]) -> Callable[[int, FrameType | None], None]:
    """A handler that notes the signal's name in `interrupted`."""

    def note(number: int, _frame: FrameType | None) -> None:
        interrupted.append(signal.Signals(number).name)

    return note


def _watch(
    outside: asyncio.Event, on_stop: Callable[[], None], timer: asyncio.TimerHandle
) -> Callable[[], None]:
    """Call on_stop when `outside` is set; the undo cancels the watch and the timer."""

    async def wait() -> None:
        await outside.wait()
        on_stop()

    watcher = asyncio.get_running_loop().create_task(wait())

    def undo() -> None:
        timer.cancel()
        watcher.cancel()

    return undo
