"""Helpers the benchmarks share: timing, the local model server, and the peers' environment.

The server is tests/fakeserver.py (loaded by path, not copied): a threaded HTTP server on
127.0.0.1 that speaks the OpenAI wire format. `AgentServer` scripts it as an instant model that
calls the first tool it is offered once per user turn and then answers, and sums the time the
server itself spent (handler and scripted delays), which the benchmarks subtract.

The peers (CrewAI, LangGraph, the raw openai SDK) run in their own virtual environment under
bench/.cache/peers, created on first use; nothing of theirs is a dependency of mas.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CACHE = BENCH / ".cache"
PEERS = Path(os.environ.get("MAS_BENCH_PEERS", CACHE / "peers"))
PEER_PACKAGES = ["crewai", "langgraph", "langchain-openai", "openai"]
PEER_IMPORTS = "import crewai, langgraph, langchain_openai, openai"
# A final answer in the ReAct shape too, should a framework parse text for it.
ANSWER = "Thought: I now know the final answer\nFinal Answer: done."
# Telemetry, tracing and update checks off: a peer must never reach past the loopback.
QUIET_PEERS = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "OTEL_SDK_DISABLED": "true",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "DO_NOT_TRACK": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "OPENAI_API_KEY": "sk-bench-dummy",
    "NO_PROXY": "127.0.0.1,localhost",
}


def fakeserver() -> ModuleType:
    """tests/fakeserver.py, imported by path (tests/ is not a package)."""
    if "fakeserver" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "fakeserver", ROOT / "tests" / "fakeserver.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fakeserver"] = module
        spec.loader.exec_module(module)
    return sys.modules["fakeserver"]


class AgentServer:
    """The fake OpenAI server answering as an instant (or `delay_s`-slow) model with tools."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.server = fakeserver().FakeServer()
        self.server.openai.handler = self._answer
        # socketserver listens with a backlog of 5: twenty clients connecting at once overflow
        # it and the kernel drops SYNs, retried a second later. Listening again widens it.
        self.server._http.socket.listen(128)
        self._lock = threading.Lock()
        self.requests = 0
        self.handler_s = 0.0
        self.first_at: float | None = None  # time.time() of the first request since the reset

    def __enter__(self) -> AgentServer:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def reset(self) -> None:
        """Forget the requests counted so far (and the recorded ones)."""
        with self._lock:
            self.requests, self.handler_s, self.first_at = 0, 0.0, None
        self.server.seen.clear()

    @property
    def server_s(self) -> float:
        """Time the server spent on the requests since the last reset, delays included."""
        return self.handler_s + self.requests * self.delay_s

    def _answer(self, body: dict[str, Any]) -> Any:
        start = time.perf_counter()
        reply = agent_reply(body, self.delay_s)
        with self._lock:
            self.first_at = self.first_at or time.time()
            self.requests += 1
            self.handler_s += time.perf_counter() - start
        return reply


def agent_reply(body: dict[str, Any], delay_s: float = 0.0) -> Any:
    """A tool call to the first tool offered if no tool has answered since the last user
    message; otherwise a final text answer. Usage included."""
    fs = fakeserver()
    messages = body.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    answered = any(m.get("role") == "tool" for m in messages[last_user + 1 :])
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    tools = body.get("tools") or []
    if tools and not answered:
        function = tools[0]["function"]
        arguments = json.dumps(example_arguments(function.get("parameters") or {}))
        reply = fs.openai_tools((function["name"], arguments), usage=usage)
    else:
        reply = fs.openai_text(ANSWER, usage=usage)
    return fs.Reply(json=reply.json, delay_s=delay_s)


def example_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments satisfying a simple JSON Schema: every required property (or the first one)."""
    properties = schema.get("properties") or {}
    names = schema.get("required") or list(properties)[:1]
    return {name: _example(properties.get(name) or {}) for name in names}


def _example(schema: dict[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "string")
    kind = kind[0] if isinstance(kind, list) else kind
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(kind, "x")


# -- timing -------------------------------------------------------------------------------------


def run(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900) -> str:
    """Run a command, return its stdout; raise with its stderr's tail when it fails."""
    done = subprocess.run(
        list(argv), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {done.returncode}:\n{tail}")
    return done.stdout


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall seconds of one command, and its stdout."""
    start = time.perf_counter()
    out = run(argv, env)
    return time.perf_counter() - start, out


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def last_json(stdout: str) -> dict[str, Any]:
    """The last line of a peer script's output: its JSON figures."""
    return json.loads(stdout.strip().splitlines()[-1])


def machine() -> str:
    """nproc, memory and Python: the line RESULTS.md starts with."""
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return (
        f"{os.cpu_count()} cores (nproc), {mem_kb / 1024**2:.1f} GiB memory, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, readable as plain text too."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# -- the peers' environment ---------------------------------------------------------------------


def peer_env(**extra: str) -> dict[str, str]:
    """The environment for a peer process: this one, telemetry off, a dummy key."""
    return {**os.environ, **QUIET_PEERS, **extra}


def peers_python() -> tuple[Path | None, str]:
    """The peers' python, creating the environment when missing; or None and why not."""
    python = PEERS / "bin" / "python"
    if not python.exists():
        _create_peers(python)
    if not python.exists():
        return None, _no_peers("the virtual environment could not be created")
    check = subprocess.run(
        [str(python), "-c", PEER_IMPORTS], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        return None, _no_peers((check.stderr.strip().splitlines() or ["import failed"])[-1])
    return python, ""


def _create_peers(python: Path) -> None:
    print(f"creating the peers' environment in {PEERS} (once, a few minutes) ...", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "peers-install.log").open("w") as log:
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(PEERS)], stdout=log, stderr=log, check=False
        )
        if made.returncode == 0:
            pip = [str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES]
            subprocess.run(pip, stdout=log, stderr=log, check=False)


def _no_peers(why: str) -> str:
    return (
        f"skipped: no working peers' environment at {PEERS}: {why} "
        f"(see {CACHE / 'peers-install.log'}; delete {PEERS} to try again)"
    )


# -- mas crews against the server ---------------------------------------------------------------

TOOLS_PY = '''def lookup(item_id: str) -> dict:
    """Look up an item."""
    return {"item_id": item_id, "ok": True}
'''


def mas_crew(
    folder: Path,
    base_url: str,
    tasks: int,
    agents: int = 1,
    *,
    tools: bool = True,
    concurrency: int | None = None,
) -> Path:
    """A crew of `agents` agents (one tool each, or none) and `tasks` independent tasks, task i
    to agent i % agents; sequential, or parallel at `concurrency`. Limits out of the way."""
    limits = f"max_llm_calls: {4 * tasks}, max_tool_calls: {2 * tasks}, max_tokens: 1000000000"
    limits += f", max_concurrency: {concurrency}" if concurrency else ""
    lines = [
        "name: bench",
        f"process: {'parallel' if concurrency else 'sequential'}",
        f"limits: {{{limits}, run_timeout_s: 3600}}",
        f'models: {{m: {{provider: openai, model: gpt-4o-mini, base_url: "{base_url}"}}}}',
        "prices: {gpt-4o-mini: {input: 0, output: 0}}",
    ]
    if tools:
        lines += ["tools:"] + [
            f"  lookup_{k}: {{function: tools.py:lookup}}" for k in range(agents)
        ]
    uses = [f", tools: [lookup_{k}]" if tools else "" for k in range(agents)]
    lines += ["agents:"] + [
        f"  a{k}: {{role: Agent {k}, goal: Look things up, model: m{uses[k]}}}"
        for k in range(agents)
    ]
    lines += ["tasks:"] + [
        f"  - {{id: t{i}, agent: a{i % agents}, prompt: 'Look up item i-{i}.'}}"
        for i in range(tasks)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tools.py").write_text(TOOLS_PY)
    (folder / "crew.yaml").write_text("\n".join(lines) + "\n")
    return folder / "crew.yaml"


def finished_at(event: dict[str, Any]) -> float:
    """An event's `ts` as seconds since the epoch, like time.time()."""
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


# An installed mas has its .pyc files (pip compiles them): a benchmark run with
# PYTHONDONTWRITEBYTECODE set would compile every module of this checkout at every start.
NO_BYTECODE = "PYTHONDONTWRITEBYTECODE"


def mas_env() -> dict[str, str]:
    """This checkout's mas_cli first on the path, whichever mas is installed; .pyc files are
    written (by each command's warm-up run) and used, as an installed mas's are."""
    env = {k: v for k, v in os.environ.items() if k != NO_BYTECODE}
    return {**env, "PYTHONPATH": str(ROOT)}


def run_mas(crew: Path, home: Path, *options: str) -> tuple[float, dict[str, Any]]:
    """`mas run CREW --quiet --home HOME [OPTIONS]`: the process's wall seconds, and its
    run_finished event,
    whose duration_s is the run's own (after start-up, crew loading and provider set-up)."""
    mas = str(Path(sys.executable).with_name("mas"))
    whole, _ = timed([mas, "run", str(crew), "--quiet", "--home", str(home), *options], mas_env())
    log = next(home.glob("runs/*/events.jsonl"))
    finished = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    if finished.get("type") != "run_finished" or finished["status"] != "ok":
        raise RuntimeError(f"mas run did not finish ok: {finished}")
    return whole, finished


TOKENIZER_LOAD = (
    "import time; from mas_cli.cost.tokens import count_text; start = time.perf_counter(); "
    "count_text('warm up', 'gpt-4o-mini'); print(time.perf_counter() - start)"
)


def tokenizer_load_s(runs: int = 3) -> float:
    """What the first token count in a process costs (loading o200k_base), median of `runs`."""
    return median(
        [float(run([sys.executable, "-c", TOKENIZER_LOAD], mas_env())) for _ in range(runs)]
    )
