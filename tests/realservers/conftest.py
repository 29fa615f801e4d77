"""Session fixtures for the real-server tier: each server is installed (cached) and started
once per test session on 127.0.0.1, and stopped at the end."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import install
from fakeserver import FakeServer, Reply, Route, openai_text
from scriptedmodel import write_scripted_model
from servers import LLAMA_CTX, Server, ensure, free_port, quiet_env, running
from tinymodel import write_model

# Canned answers, errors and tool calls, one model name each, and `tiny`, routed to llama-server
# (its usage is what llama-server really counted, not a canned figure). `canned` has a price the proxy
# knows and reports (x-litellm-response-cost); mas has none for it. `budgeted` is `canned` under a
# budget its first call crosses: the proxy answers every later call with its budget 429.
LITELLM_CONFIG = """\
model_list:
  - model_name: canned
    litellm_params:
      model: openai/canned
      api_key: sk-none
      mock_response: '{"decision": "approve", "score": 0.25}'
      input_cost_per_token: 0.001
      output_cost_per_token: 0.002
  - model_name: budgeted
    litellm_params:
      model: openai/budgeted
      api_key: sk-none
      mock_response: '{"decision": "approve", "score": 0.25}'
      input_cost_per_token: 0.001
      output_cost_per_token: 0.002
      max_budget: 0.000001
      budget_duration: 30d
  - model_name: think
    litellm_params:
      model: openai/think
      api_key: sk-none
      mock_response: "<think>The user wants JSON.</think>\\nHere it is:\\n```json\\n{\\"decision\\": \\"block\\", \\"score\\": 0.9}\\n```\\nHope that helps."
  - model_name: blank
    litellm_params:
      model: openai/blank
      api_key: sk-none
      mock_response: "  "
  - model_name: ratelimited
    litellm_params:
      model: openai/ratelimited
      api_key: sk-none
      mock_response: litellm.RateLimitError
  - model_name: overflow
    litellm_params:
      model: openai/overflow
      api_key: sk-none
      mock_response: litellm.ContextWindowExceededError
  - model_name: tooler
    litellm_params:
      model: openai/tooler
      api_key: sk-none
      mock_response: "calling lookup"
      mock_tool_calls:
        - id: call_1
          type: function
          function: {name: lookup, arguments: '{"account": "a-1"}'}
  - model_name: tiny
    litellm_params:
      model: openai/tiny
      api_key: sk-none
      api_base: LLAMA_URL/v1
  - model_name: scripted
    litellm_params:
      model: openai/scripted
      api_key: sk-none
      api_base: SCRIPTED_URL/v1
  - model_name: unmetered
    litellm_params:
      model: openai/unmetered
      api_key: sk-none
      api_base: UNMETERED_URL/v1
litellm_settings:
  telemetry: false
general_settings:
  disable_spend_logs: true
"""


@pytest.fixture(scope="session")
def litellm(
    tmp_path_factory: pytest.TempPathFactory,
    llama: Server,
    scripted: Server,
    unmetered: FakeServer,
) -> Iterator[Server]:
    """The LiteLLM proxy (both wire formats) with canned models and routes to llama-server."""
    python = ensure("litellm")
    folder = tmp_path_factory.mktemp("litellm")
    config = folder / "config.yaml"
    urls = {"LLAMA_URL": llama.url, "SCRIPTED_URL": scripted.url, "UNMETERED_URL": unmetered.url}
    text = LITELLM_CONFIG
    for name, url in urls.items():
        text = text.replace(name, url)
    config.write_text(text)
    port = free_port()
    cmd = [str(python.parent / "litellm"), "--config", str(config)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with running(
        "LiteLLM proxy", cmd, "/health/liveliness", folder / "proxy.log", quiet_env()
    ) as s:
        yield s


@pytest.fixture(scope="session")
def unmetered() -> Iterator[FakeServer]:
    """An OpenAI-compatible server that answers every call and reports no usage, as some do;
    the proxy routes model `unmetered` to it. It answers the Responses API (where the proxy
    sends a call made on Anthropic's wire) with the same chat completion, which the proxy
    cannot read: it says so in an error body sent with status 200."""
    answer = openai_text('{"decision": "approve", "score": 0.25}').json
    reply = Reply(json={k: v for k, v in answer.items() if k != "usage"})
    with FakeServer() as server:
        server.openai.handler = lambda _body: reply
        server.routes["/v1/responses"] = Route(handler=lambda _body: reply)
        yield server


PHOENIX_START_S = 600.0


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Arize Phoenix: an OTLP/HTTP receiver (/v1/traces) with a REST API to read spans back.
    Its database lives in a temporary working folder; nothing is fetched at start."""
    python = ensure("phoenix")
    folder = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = quiet_env(
        PHOENIX_WORKING_DIR=str(folder / "work"),
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(free_port()),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
    )
    cmd = [str(python.parent / "phoenix"), "serve"]
    log = folder / "phoenix.log"
    # It migrates a fresh database first: about 3 minutes on a loaded 2-core machine.
    with running("Phoenix", cmd, "/healthz", log, env, port=port, start_s=PHOENIX_START_S) as s:
        yield s


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """llama-server on a tiny random model with a real tool-capable chat template."""
    with _llama_server(tmp_path_factory.mktemp("llama"), write_model, LLAMA_CTX) as server:
        yield server


@pytest.fixture(scope="session")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """llama-server on the hand-written model: one tool call, then a JSON answer."""
    with _llama_server(tmp_path_factory.mktemp("scripted"), write_scripted_model, 4096) as server:
        yield server


@contextmanager
def _llama_server(folder: Path, write: Callable[[Path], Path], ctx: int) -> Iterator[Server]:
    binary = ensure("llama")
    model = write(folder / "model.gguf")
    port = free_port()
    cmd = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--jinja", "-c", str(ctx), "-np", "1", "-t", "1", "--seed", "7", "--no-webui"]
    with running("llama-server", cmd, "/health", folder / "server.log", quiet_env()) as s:
        yield s


__all__ = ["LITELLM_CONFIG", "install"]
