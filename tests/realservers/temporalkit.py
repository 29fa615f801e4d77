"""The scale-out tier's parts: a Temporal development server on 127.0.0.1, `mas worker`
processes, a fake OpenAI provider that injects 429s and latency and logs what it was sent and
billed, and a crew whose one side effect honours its idempotency key."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer, Reply, error, openai_text, openai_tools
from servers import ensure, free_port, quiet_env

ROOT = Path(__file__).resolve().parents[2]
OUTBOX_PY = ROOT / "tests" / "fixtures" / "resume" / "outbox.py"
START_S = 120.0
USAGE = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
PRICE = {"input": 1, "output": 2}  # dollars per million tokens
PER_CALL_USD = (50 * 1 + 10 * 2) / 1e6
THROTTLE_EVERY = 9  # every 9th request is refused with a 429, but never a retry of one refused


@dataclass(frozen=True)
class Temporal:
    """A running development server."""

    address: str
    log: Path


@contextmanager
def dev_server(folder: Path) -> Iterator[Temporal]:
    """`temporal server start-dev` in memory on a free loopback port, stopped afterwards."""
    binary = ensure("temporal")
    port = free_port()
    cmd = [str(binary), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    cmd += ["--headless", "--log-level", "warn", "--namespace", "default"]
    log = folder / "temporal.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=quiet_env())
    server = Temporal(f"127.0.0.1:{port}", log)
    try:
        _wait_ready(server, proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def _wait_ready(server: Temporal, proc: subprocess.Popen[bytes]) -> None:
    from temporalio.client import Client

    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            asyncio.run(Client.connect(server.address))
            return
        except RuntimeError:
            time.sleep(0.5)
    tail = server.log.read_text(errors="replace")[-3000:] if server.log.exists() else ""
    pytest.fail(
        f"scale-out tier: the Temporal dev server on {server.address} did not start "
        f"(exit {proc.poll()}); its log:\n{tail}\nFix: python tests/realservers/install.py temporal",
        pytrace=False,
    )


@dataclass
class Provider:
    """A fake OpenAI endpoint: a tool call, then an answer, per item; 429s and latency; a log
    of every request (when, which item and turn, answered or refused, the key it carried)."""

    server: FakeServer = field(default_factory=FakeServer)
    log: list[tuple[float, str, bool, int]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    count: itertools.count[int] = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refused: set[tuple[str, bool]] = field(default_factory=set)
    """The requests (item, after the tool) whose last try was refused."""

    def __post_init__(self) -> None:
        self.server.openai.handler = self.answer

    def answer(self, body: dict[str, Any] | None) -> Reply:
        if body is None:  # a connection cut mid-request (the worker killed)
            return Reply(400, {"error": {"message": "no body"}})
        n = next(self.count)
        text = json.dumps(body["messages"])
        found = re.search(r"item-\d+", text)
        item = found.group(0) if found else "?"
        answered = any(m.get("role") == "tool" for m in body["messages"])
        auth = self.server.seen[-1].headers.get("authorization", "")
        self.keys.add(auth.removeprefix("Bearer "))
        status = 429 if n % THROTTLE_EVERY == THROTTLE_EVERY - 1 else 200
        if (item, answered) in self.refused:  # a retry is answered: with 12 items in flight,
            status = 200  # one item's five tries could each land on a ninth request (seen once)
        self.refused.discard((item, answered))
        self.log.append((time.monotonic(), item, answered, status))
        if status == 429:
            self.refused.add((item, answered))
            return error(429, "slow down", kind="rate_limit_exceeded")
        delay = 0.02 + (n % 4) * 0.01
        if answered:
            return _later(openai_text(f"{item} notified", usage=USAGE), delay)
        args = json.dumps({"to": item, "body": f"notice for {item}"})
        return _later(openai_tools(("send", args), usage=USAGE), delay)

    @property
    def url(self) -> str:
        return self.server.url

    def paid(self) -> list[tuple[str, bool]]:
        """Each answered (billed) request: its item and whether it was the turn after the tool."""
        return [(item, after) for _, item, after, status in self.log if status == 200]

    def busiest_minute(self) -> int:
        """The most requests the provider saw in any 60 s."""
        times = sorted(t for t, *_ in self.log)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 60:
                start += 1
            most = max(most, end - start + 1)
        return most


def _later(reply: Reply, delay: float) -> Reply:
    return Reply(reply.status, reply.json, reply.body, reply.headers, delay)


def crew(folder: Path, url: str, rpm: int) -> Path:
    """A two-turn crew: the clerk sends one notice (side effect, idempotent), then answers."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(OUTBOX_PY, folder / "outbox.py")
    doc = {
        "name": "fleet-outbox",
        "inputs": {"item": {"description": "the item"}},
        "models": {
            "fast": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "base_url": url + "/v1",
                "max_tokens": 64,
                "api_key_env": "MAS_FLEET_KEY",  # a base_url model gets a key only when told
            }
        },
        "prices": {"gpt-4o-mini": PRICE},
        "limits": {"max_turns": 3, "max_retries": 4, "retry_backoff_s": 0.05},
        "rate_limits": {"fast": {"rpm": rpm}},
        "tools": {
            "send": {"function": "outbox.py:send", "kind": "side_effect", "idempotent": True}
        },
        "agents": {"clerk": {"role": "Clerk", "model": "fast", "tools": ["send"]}},
        "tasks": [{"id": "notify", "agent": "clerk", "prompt": "Send the notice for {item}."}],
    }
    path = folder / "crew.yaml"
    path.write_text(json.dumps(doc))
    return path


def items(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"item": f"item-{i}"}) + "\n" for i in range(count)))
    return path


def outbox(crew_path: Path) -> list[dict[str, Any]]:
    box = crew_path.with_name("outbox.jsonl")
    if not box.exists():
        return []
    return [json.loads(line) for line in box.read_text().splitlines() if line.strip()]


def mas(*args: str, home: Path, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-m", "mas_cli", *args, "--home", str(home)]


def worker_env(key: str) -> dict[str, str]:
    """A worker's environment: no key of the machine's, only the canary."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.pop("MAS_HOME", None)
    return {**env, "MAS_FLEET_KEY": key, "NO_PROXY": "*"}


@dataclass
class Fleet:
    """`mas worker` processes for one crew on one task queue."""

    crew: Path
    temporal: Temporal
    folder: Path
    queue: str
    key: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        home = self.folder / f"worker-{n}"
        cmd = mas("worker", str(self.crew), "--address", self.temporal.address, home=home)
        cmd += ["--task-queue", self.queue, "-c", "4"]
        with (self.folder / f"worker-{n}.log").open("w") as log:
            env = worker_env(self.key)
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"--- worker-{n}:\n{(self.folder / f'worker-{n}.log').read_text()[-2000:]}"
            for n in range(len(self.procs))
        )
