"""Real servers for the tests, started on 127.0.0.1 and stopped after: the LiteLLM proxy with
canned answers, errors and tool calls, and llama.cpp's llama-server on a tiny random model.

A server that cannot be installed or started fails the test that needs it, with what failed,
the last lines of its log and how to fix it; it is never skipped.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import install
import pytest

LLAMA_CTX = 1024  # llama-server's context: small, so an overflow is cheap to provoke
START_TIMEOUT_S = 180.0  # generous: a loaded 2-core machine starts the proxy in ~20 s


@dataclass(frozen=True)
class Server:
    """A running server: where it listens, and its log."""

    name: str
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure(component: str) -> Path:
    """Install a component (cached), or fail the test saying what and how to fix it."""
    try:
        return install.COMPONENTS[component]()
    except install.InstallError as exc:
        pytest.fail(f"real-server tier: {exc}", pytrace=False)


@contextmanager
def running(
    name: str,
    cmd: list[str],
    health: str,
    log: Path,
    env: dict[str, str],
    *,
    port: int | None = None,
    start_s: float = START_TIMEOUT_S,
) -> Iterator[Server]:
    """Start `cmd`, wait until `health` answers 200, stop it afterwards (whatever happens).
    The port is `cmd`'s `--port` unless given (a server told its port in the environment)."""
    port = port or int(cmd[cmd.index("--port") + 1])
    server = Server(name, port, log)
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent)
    try:
        _wait_healthy(server, proc, health, start_s)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _wait_healthy(
    server: Server, proc: subprocess.Popen[bytes], health: str, start_s: float
) -> None:
    deadline = time.monotonic() + start_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _fail(server, f"exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(server.url + health, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    _fail(server, f"did not answer {health} within {start_s:g} s")


def _fail(server: Server, what: str) -> None:
    pytest.fail(
        f"real-server tier: {server.name} on 127.0.0.1:{server.port} {what}; last lines of "
        f"{server.log}:\n{install.log_tail(server.log)}\n"
        "Fix: run `python tests/realservers/install.py` and read its output; delete "
        f"{install.cache_root()} to reinstall from scratch.",
        pytrace=False,
    )


def quiet_env(**extra: str) -> dict[str, str]:
    """The server's environment: no provider keys, no telemetry, nothing fetched at start."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_TELEMETRY="False",
        DISABLE_SCHEMA_UPDATE="True",
        NO_PROXY="*",
        **extra,
    )
    return env


def post(
    url: str, body: dict[str, object], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """POST JSON; the status, headers and body, errors included."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
