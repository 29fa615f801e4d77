"""Every test gets a clean environment, a temporary MAS_HOME, and no way off this machine."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer

SECRET_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")
OTEL_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")  # live export
LOOPBACK = ("127.", "::1", "localhost")
ROOT = Path(__file__).resolve().parent.parent
# One unit of work for xdist: the real-server tier (see pytest_xdist_make_scheduler).
SERVERS = "tests/realservers/"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real keys, no debug mode, runs and cache under a temporary home."""
    for name in (*SECRET_VARS, *OTEL_VARS, "MAS_DEBUG", "MAS_HOME"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "mas-home"
    monkeypatch.setenv("MAS_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # the price cache
    monkeypatch.setenv("COLUMNS", "200")
    return home


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach an address that is not loopback."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(LOOPBACK):
            raise AssertionError(f"test tried to reach {host}: tests never leave this machine")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def fixtures() -> Path:
    """The folder of fixture files."""
    return ROOT / "tests" / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    """Make tests/ importable for shared helpers (crewkit, fakeserver). An xdist worker starts
    with SIGINT ignored, and its children would inherit that (mas keeps a SIGINT ignored from
    the start): they get Python's own, as a command started from a shell does."""
    import signal
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _build_each_command_once()


def _build_each_command_once() -> None:
    """CliRunner.invoke turns the Typer app into a Click command on every call: some 40 ms of
    reading signatures and type hints, half of a small command's time in the runner and minutes
    over the suite. Build it once per app, again whenever what the app registers changes. The
    command is built from the app alone, and `mas` too builds it once and then parses with it."""
    import typer.testing
    from typer.main import get_command

    built: dict[int, tuple[Any, tuple[Any, ...], Any]] = {}

    def once(app: Any) -> Any:
        shape = _registered(app)
        held = built.get(id(app))
        if held is None or held[0] is not app or held[1] != shape:
            held = built[id(app)] = (app, shape, get_command(app))
        return held[2]

    typer.testing._get_command = once


def _registered(app: Any) -> tuple[Any, ...]:
    """What get_command reads from a Typer app, by identity: its callback, commands and groups."""
    groups = tuple((g, _registered(g.typer_instance)) for g in app.registered_groups)
    return (app.registered_callback, app.info, tuple(app.registered_commands), groups)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """For `pytest -n 2 --dist loadgroup` (the README's test command): the real-server tier
    (tests/realservers/) is one unit of work, run in order by one worker, so each of its servers
    (Temporal, LiteLLM, llama-server, Phoenix, Chromium) starts once, not once per worker. The
    other tests are shared out one at a time to whichever worker is free: the tier mostly waits
    on its servers, and the other worker is busy meanwhile.

    The unit is made here, in the scheduler, not with xdist_group marks: xdist (3.8) passes a
    mark on by rewriting the test's id, which pytest 9.2 no longer lets it do, so marks group
    nothing (pytest-dev/pytest-xdist#1386). tests/test_xdist_groups.py holds the tier to one worker.

    The tier shares no machine state with the tests beside it: every server listens on a port
    the kernel chose (servers.free_port), runs under a temporary folder and is stopped by its
    own Popen handle (never a process group or a name); what the tier writes under
    ~/.cache/mas-ci it writes under install.py's file lock; its screenshots go to
    bench/.artifacts/view/, which no other test reads; and no test asserts on CPU or wall time
    beyond generous bounds (seconds for what takes milliseconds)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class TierInOneWorker(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SERVERS if nodeid.startswith(SERVERS) else super()._split_scope(nodeid)

    return TierInOneWorker(config, log)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A wire-compatible OpenAI and Anthropic server on 127.0.0.1, scripted by the test."""
    with FakeServer() as fake:
        yield fake
