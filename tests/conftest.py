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
    """Make tests/ importable for shared helpers (crewkit, fakeserver)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A wire-compatible OpenAI and Anthropic server on 127.0.0.1, scripted by the test."""
    with FakeServer() as fake:
        yield fake
