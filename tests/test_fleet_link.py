"""A worker's link to its batch workflow (fleet/link.py) when an update does not come back: an
update the SDK gives up waiting for is sent again, and whatever else goes wrong reaches every
item waiting on the exchange as an error. An item left waiting would hang until its six-hour
timeout while its heartbeat kept it alive."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mas_cli.errors import MasError
from mas_cli.fleet import link as link_module
from mas_cli.fleet.link import Link
from mas_cli.fleet.messages import Ask, Exchange, Grant

GUARD_S = 30  # a test that would hang on main fails instead


class Handle:
    """A workflow handle whose first updates fail as `failures` say, then grant every ask."""

    id = "b-test"

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.sent: list[Exchange] = []

    async def execute_update(self, _name: str, exchange: Exchange, **_: Any) -> list[Grant]:
        self.sent.append(exchange)
        if self.failures:
            raise self.failures.pop(0)
        return [Grant(ok=True) for _ in exchange.asks]


def gave_up() -> Exception:
    """What the SDK raises when it stops waiting for an update (a timeout, or a cancel)."""
    from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

    return WorkflowUpdateRPCTimeoutOrCancelledError()


def ask(item: str) -> Ask:
    return Ask(item, 1, f"lease-{item}", 10, "0.001", [], 10)


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(link_module, "RETRY_S", (0.0, 0.0))


async def both(link: Link) -> list[Any]:
    sends = [link.send(asks=[ask("a")]), link.send(asks=[ask("b")])]
    return await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), GUARD_S)


def test_an_update_the_sdk_gave_up_waiting_for_is_sent_again() -> None:
    handle = Handle(gave_up())
    answers = asyncio.run(both(Link(handle)))
    assert answers == [[Grant(ok=True)], [Grant(ok=True)]]
    assert len(handle.sent) >= 2


def test_an_unexpected_failure_reaches_every_item_waiting_on_it() -> None:
    handle = Handle(ValueError("a payload the converter cannot read"))
    answers = asyncio.run(both(Link(handle)))
    assert [type(a) for a in answers] == [MasError, MasError]
    assert "the batch workflow b-test did not answer" in str(answers[0])
    assert "a payload the converter cannot read" in str(answers[0])


def test_a_link_cancelled_in_flight_is_cancelled_not_retried() -> None:
    class Stuck(Handle):
        async def execute_update(self, _name: str, exchange: Exchange, **_: Any) -> list[Grant]:
            self.sent.append(exchange)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError as exc:  # what the SDK does with a cancel
                raise gave_up() from exc
            raise AssertionError("unreachable")

    async def cancel_it() -> None:
        link = Link(Stuck())
        sending = asyncio.create_task(link.send(asks=[ask("a")]))
        await asyncio.sleep(0.05)
        assert link.sending is not None
        link.sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(link.sending, GUARD_S)
        with pytest.raises((asyncio.CancelledError, MasError)):
            await asyncio.wait_for(sending, GUARD_S)

    asyncio.run(cancel_it())
