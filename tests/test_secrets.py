"""Secrets under attack: tools that print their environment, servers that echo the key in every
field, base-URL variables that point elsewhere. A canary key must appear in no file, no output
and no request body, wherever it comes from."""

from __future__ import annotations

import ast
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from fakeserver import (
    ANTHROPIC,
    OPENAI,
    FakeServer,
    Reply,
    anthropic_text,
    anthropic_tools,
    openai_text,
    openai_tools,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mas_cli.cli import app

KEY = "sk-canary-key-1234567890"
OPENAI_KEY = "sk-openai-canary-0987654321"
ANTHROPIC_KEY = "sk-ant-canary-5555555555"
HEADER = "hdr-canary-2468013579"
TOKEN = "ghp-canary-token-13579"  # a variable named like a secret, used by no model
CANARIES = (KEY, OPENAI_KEY, ANTHROPIC_KEY, HEADER, TOKEN)
runner = CliRunner()

TOOLS_PY = '''
import os

def environ_values() -> dict:
    """Every variable a key could hide in."""
    names = ["MAS_TEST_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN"]
    return {name: os.environ.get(name, "") for name in names}
'''
PRINT_ENV = ["python", "-c", "import os; print(dict(os.environ))"]


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("MAS_TEST_PLAIN", "plain-value-42")


def _crew(tmp_path: Path, server: FakeServer, provider: str, **tool_extra: Any) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS_PY, encoding="utf-8")
    model: dict[str, Any] = {
        "provider": provider,
        "model": "gpt-4o-mini" if provider == "openai" else "claude-sonnet-4-6",
        "base_url": server.url + ("/v1" if provider == "openai" else ""),
        "api_key_env": "MAS_TEST_KEY",
        "headers": {"X-Team-Token": HEADER},
    }
    doc = {
        "name": "secrets",
        "models": {"m": model},
        "limits": {"max_retries": 0, "llm_timeout_s": 5, "max_turns": 3},
        "tools": {
            "print_env": {"command": PRINT_ENV, "kind": "deterministic", **tool_extra},
            "environ_values": {"function": "tools.py:environ_values", "kind": "deterministic"},
        },
        "agents": {"a": {"role": "A", "model": "m", "tools": ["print_env", "environ_values"]}},
        "tasks": [{"id": "t", "agent": "a", "prompt": "Look around."}],
    }
    path = tmp_path / "crew.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _files_hold_no_canary(home: Path) -> None:
    files = [p for p in home.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert names >= {"events.jsonl", "llm.jsonl", "output.json", "state.json", "cache.db"}
    for path in files:
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in data, (path, canary)


def _tool_messages(server: FakeServer, path: str) -> str:
    """Everything the last request sent back to the model, as text."""
    return json.dumps(server.requests(path)[-1].json)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_tool_that_prints_its_environment_puts_no_key_anywhere(
    tmp_path: Path, server: FakeServer, clean_env: Path, canaries: None, provider: str
) -> None:
    if provider == "openai":
        server.openai.push(
            openai_tools(("print_env", "{}"), ("environ_values", "{}")), openai_text("done")
        )
    else:
        server.anthropic.push(
            anthropic_tools(("print_env", {}), ("environ_values", {})), anthropic_text("done")
        )
    crew = _crew(tmp_path, server, provider)
    result = runner.invoke(app, ["run", str(crew)])
    assert result.exit_code == 0, result.stderr
    sent = _tool_messages(server, OPENAI if provider == "openai" else ANTHROPIC)
    for canary in CANARIES:  # not in the next request's body...
        assert canary not in sent
        assert canary not in result.stdout + result.stderr
    # ...because the command never got the key variables, and the function's values were scrubbed
    assert "'PATH'" in sent
    for name in ("MAS_TEST_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN"):
        assert f"'{name}'" not in sent  # the printed environment has no such variable
    assert '\\"MAS_TEST_KEY\\": \\"***\\"' in sent
    _files_hold_no_canary(clean_env)
    again = runner.invoke(app, ["tool-test", "print_env", "--crew", str(crew), "--json"])
    assert again.exit_code == 0, again.stderr
    assert all(c not in again.stdout for c in CANARIES)


def test_a_command_tool_gets_the_allow_list_and_its_own_env_names_only(
    tmp_path: Path, server: FakeServer, canaries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("MAS_SMUGGLED", f"prefix-{KEY}")  # a listed name holding a key's value
    monkeypatch.setenv("LC_API_TOKEN", "lc-token-value-13579")  # LC_* is allowed: not this one
    monkeypatch.setenv("LC_SESSION_TOKEN", "lc-listed-value-2468")  # unless env: lists it
    listed = ["MAS_TEST_PLAIN", "MAS_SMUGGLED", "LC_SESSION_TOKEN"]
    crew = _crew(tmp_path, server, "openai", env=listed)
    result = runner.invoke(app, ["tool-test", "print_env", "--crew", str(crew), "--json"])
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)["runs"][0]["output"]
    seen = ast.literal_eval(output)  # the repr of a dict of strings
    assert seen["MAS_TEST_PLAIN"] == "plain-value-42"
    assert seen["LC_ALL"] == "C.UTF-8"
    assert {"PATH", "HOME"} <= set(seen)
    assert not {"MAS_TEST_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN"} & set(seen)
    assert "MAS_SMUGGLED" not in seen
    assert "LC_API_TOKEN" not in seen
    assert seen["LC_SESSION_TOKEN"] == "***"  # passed, as listed; masked in what the tool prints


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("[MAS_TEST_KEY]", "tools.print_env.env[0]: MAS_TEST_KEY holds a model's key"),
        ("[OPENAI_API_KEY]", "tools.print_env.env[0]: OPENAI_API_KEY holds a model's key"),
        ('["NOT-A-NAME"]', "tools.print_env.env: 'NOT-A-NAME' is not a variable name"),
    ],
)
def test_listing_a_model_key_variable_in_env_is_refused_where_it_is_written(
    tmp_path: Path, env: str, message: str
) -> None:
    crew = _write(
        tmp_path,
        "models: {m: {provider: openai, model: gpt-4o-mini, api_key_env: MAS_TEST_KEY}}\n"
        f"tools:\n  print_env:\n    command: [python, -c, 'print(1)']\n    env: {env}\n"
        "agents: {a: {role: A, model: m, tools: [print_env]}}\n",
    )
    result = runner.invoke(app, ["validate", str(crew)])
    assert result.exit_code == 2
    assert f"{crew}:6:" in result.stderr + result.stdout
    assert message in result.stderr + result.stdout


def _write(folder: Path, middle: str) -> Path:
    """A one-task crew whose models, tools and agents are `middle`."""
    crew = folder / "crew.yaml"
    text = f"name: c\n{middle}tasks: [{{id: t, agent: a, prompt: hi}}]\n"
    crew.write_text(text, encoding="utf-8")
    return crew


def _run_started(home: Path) -> dict[str, Any]:
    run_dir = next((home / "runs").iterdir())
    return dict(json.loads((run_dir / "events.jsonl").read_text().splitlines()[0]))


def _echo_everywhere(secret: str) -> dict[str, Any]:
    return {"message": f"bad key {secret}", "type": f"type-{secret}", "code": secret}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_server_echoing_the_key_in_code_and_type_leaks_it_nowhere(
    tmp_path: Path, server: FakeServer, clean_env: Path, canaries: None, provider: str
) -> None:
    body = {"type": "error", "error": _echo_everywhere(KEY)}
    body["error"]["details"] = {"error_code": HEADER}
    route = server.openai if provider == "openai" else server.anthropic
    route.push(Reply(400, body))
    crew = _crew(tmp_path, server, provider)
    result = runner.invoke(app, ["run", str(crew), "--json"])
    assert result.exit_code == 1
    assert "bad key ***" in result.stderr
    for canary in CANARIES:
        assert canary not in result.stdout + result.stderr
    files = [clean_env / "runs" / p.name for p in (clean_env / "runs").iterdir()]
    for name in ("events.jsonl", "llm.jsonl", "output.json", "state.json"):
        text = (files[0] / name).read_text(encoding="utf-8")
        assert all(c not in text for c in CANARIES), name


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_key_echoed_in_a_200_body_is_scrubbed_before_it_is_kept_or_sent_back(
    tmp_path: Path, server: FakeServer, clean_env: Path, canaries: None, provider: str
) -> None:
    if provider == "openai":
        reply = openai_text(f"your key is {KEY} and {OPENAI_KEY}")
        extra = {"system_fingerprint": KEY, "id": HEADER}
        server.openai.push(Reply(json={**(reply.json or {}), **extra}))
    else:
        reply = anthropic_text(f"your key is {KEY} and {OPENAI_KEY}")
        server.anthropic.push(Reply(json={**(reply.json or {}), "id": KEY, "model": HEADER}))
    result = runner.invoke(app, ["run", str(_crew(tmp_path, server, provider))])
    assert result.exit_code == 0, result.stderr
    assert "your key is *** and ***" in result.stdout
    for canary in CANARIES:
        assert canary not in result.stdout + result.stderr
    run_dir = next((clean_env / "runs").iterdir())
    for name in ("events.jsonl", "llm.jsonl", "output.json", "state.json"):
        text = (run_dir / name).read_text(encoding="utf-8")
        assert all(c not in text for c in CANARIES), name


def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names other than loopback do not resolve: nothing is looked up off this machine."""
    real = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host) not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(f"test: {host} is not resolved")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.mark.parametrize(
    "case",
    [
        ("openai", "OPENAI_BASE_URL", "https://api.openai.com/v1"),
        ("anthropic", "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    ],
)
def test_a_base_url_variable_never_takes_the_official_key_elsewhere(
    tmp_path: Path,
    server: FakeServer,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, str, str],
) -> None:
    provider, variable, official = case
    _no_dns(monkeypatch)
    key_var = "OPENAI_API_KEY" if provider == "openai" else "ANTHROPIC_API_KEY"
    monkeypatch.setenv(key_var, KEY)
    monkeypatch.setenv(variable, server.url + ("/v1" if provider == "openai" else ""))
    crew = _write(
        tmp_path,
        f"models: {{m: {{provider: {provider}, model: some-model}}}}\n"
        "limits: {max_retries: 0, llm_timeout_s: 5}\nagents: {a: {role: A, model: m}}\n",
    )
    result = runner.invoke(app, ["run", str(crew)])
    assert result.exit_code == 1
    assert server.seen == []  # the variable's host got nothing, and so not the key
    assert _run_started(clean_env)["endpoints"] == {"m": official}


def test_each_model_endpoint_is_recorded_without_credentials(
    tmp_path: Path, server: FakeServer, clean_env: Path, canaries: None
) -> None:
    server.openai.push(openai_text("done"))
    crew = _crew(tmp_path, server, "openai")
    doc = json.loads(crew.read_text())
    doc["models"]["m"]["base_url"] = server.url.replace("://", "://user:pw-canary-77@") + "/v1"
    doc["tools"] = {}
    doc["agents"]["a"]["tools"] = []
    crew.write_text(json.dumps(doc))
    result = runner.invoke(app, ["run", str(crew)])
    assert result.exit_code == 0, result.stderr
    run_dir = next((clean_env / "runs").iterdir())
    assert _run_started(clean_env)["endpoints"] == {"m": server.url + "/v1"}
    for name in ("events.jsonl", "llm.jsonl"):
        assert "pw-canary-77" not in (run_dir / name).read_text()
    from mas_cli.llm.keys import endpoint
    from mas_cli.spec.model_spec import ModelSpec

    assert endpoint(ModelSpec(provider="offline", model="offline")) is None


def test_the_scrubber_finds_escaped_forms_and_walks_structures() -> None:
    from mas_cli.redact import Secrets

    secrets = Secrets.of('ab"cd\\ef-123', "short", "x" * 5)
    assert secrets.scrub(json.dumps({"k": 'ab"cd\\ef-123'})) == '{"k": "***"}'
    assert secrets.scrub_value({'ab"cd\\ef-123': ['ab"cd\\ef-123!', 1, None]}) == {
        "***": ["***!", 1, None]
    }
    assert Secrets.from_environment({"MY_TOKEN": "t0ken-value", "PATH": "/usr/bin:/bin"}).values
    assert Secrets.from_environment({"PATH": "/usr/bin:/bin-long-enough"}).values == ()


KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+/="


@settings(max_examples=150, deadline=None)
@given(
    secrets=st.lists(st.text(KEY_CHARS, min_size=6, max_size=40), min_size=1, max_size=3),
    around=st.lists(st.text(max_size=20), min_size=2, max_size=6),
)
def test_no_secret_survives_scrubbing_wherever_it_is_put(
    secrets: list[str], around: list[str]
) -> None:
    from mas_cli.redact import Secrets

    scrubber = Secrets.of(*secrets)
    text = "".join(a + s for a, s in zip(around, secrets * len(around), strict=False))
    doc = {text: [text, {"k": text}], "n": 1}
    dumped = json.dumps(scrubber.scrub_value(doc), ensure_ascii=False)
    for secret in secrets:
        assert secret not in dumped
        assert secret not in scrubber.scrub(json.dumps(doc, ensure_ascii=False))
        assert secret not in scrubber.scrub(text)


def test_env_on_a_function_tool_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text(TOOLS_PY, encoding="utf-8")
    crew = _write(
        tmp_path,
        "tools:\n  f: {function: 'tools.py:environ_values', env: [MAS_TEST_PLAIN]}\n"
        "agents: {a: {role: A, model: offline, tools: [f]}}\n",
    )
    result = runner.invoke(app, ["validate", str(crew)])
    assert result.exit_code == 2
    assert f"{crew}:3:" in result.stderr
    assert "tools.f.env: only command tools take env:" in result.stderr
    assert "a function tool runs inside mas and reads its environment" in result.stderr


BEARER = "tok-live-bearer-24681357"  # written in the crew file, in no variable


@pytest.mark.parametrize("status", [401, 200])
def test_the_token_of_an_authorization_header_echoed_alone_is_scrubbed(
    tmp_path: Path, server: FakeServer, clean_env: Path, status: int
) -> None:
    echo = f"token {BEARER} is not valid here"
    server.openai.push(
        Reply(401, {"error": {"message": echo}}) if status == 401 else openai_text(echo)
    )
    doc = {
        "name": "bearer",
        "models": {
            "m": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "base_url": server.url + "/v1",
                "headers": {"Authorization": f"Bearer {BEARER}"},
            }
        },
        "limits": {"max_retries": 0},
        "agents": {"a": {"role": "A", "model": "m"}},
        "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
    }
    crew = tmp_path / "crew.yaml"
    crew.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(app, ["run", str(crew)])
    assert "token *** is not valid here" in result.stdout + result.stderr
    assert BEARER not in result.stdout + result.stderr
    assert server.requests(OPENAI)[0].headers["authorization"] == f"Bearer {BEARER}"
    for path in (p for p in clean_env.rglob("*") if p.is_file()):
        assert BEARER.encode() not in path.read_bytes(), path


def test_a_key_given_to_tool_test_as_an_argument_is_masked_and_never_cached(
    tmp_path: Path, server: FakeServer, clean_env: Path, canaries: None
) -> None:
    crew = _crew(tmp_path, server, "openai")
    (tmp_path / "tools.py").write_text(
        TOOLS_PY + '\n\ndef echo(text: str) -> str:\n    """Echo."""\n    return text\n',
        encoding="utf-8",
    )
    doc = json.loads(crew.read_text(encoding="utf-8"))
    doc["tools"]["echo"] = {"function": "tools.py:echo", "kind": "deterministic"}
    crew.write_text(json.dumps(doc), encoding="utf-8")
    given = ["--crew", str(crew), "--arg", f"text=token {KEY} here"]
    tested = runner.invoke(app, ["tool-test", "echo", *given, "--json"])
    assert tested.exit_code == 0, tested.stderr
    assert json.loads(tested.stdout)["arguments"] == {"text": "token *** here"}  # as in a run
    explained = runner.invoke(app, ["cache", "explain", "echo", *given])
    assert explained.exit_code == 0, explained.stderr
    for result in (tested, explained):
        assert KEY not in result.stdout + result.stderr
    for path in (p for p in clean_env.rglob("*") if p.is_file()):
        assert KEY.encode() not in path.read_bytes(), path


def test_a_key_cut_by_a_tools_output_cap_is_not_kept_in_part(
    tmp_path: Path, clean_env: Path, canaries: None
) -> None:
    # The output was cut at max_output_bytes before the scrub, which knows whole values only:
    # the key's first half, just before the cut, was kept.
    (tmp_path / "tools.py").write_text(
        "import os\n\ndef padded() -> str:\n"
        "    return 'y' * 90 + os.environ['MAS_TEST_KEY'] + ' and more'\n",
        encoding="utf-8",
    )
    doc = {
        "name": "cut",
        "tools": {"padded": {"function": "tools.py:padded", "max_output_bytes": 100}},
        "agents": {"a": {"role": "A", "model": "offline", "tools": ["padded"]}},
        "tasks": [{"id": "t", "agent": "a", "prompt": "Look."}],
    }
    crew = tmp_path / "crew.yaml"
    crew.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(app, ["tool-test", "padded", "--crew", str(crew), "--json"])
    assert result.exit_code == 0, result.stderr
    assert "output cut at 100 bytes" in result.stdout
    assert KEY[:10] not in result.stdout + result.stderr
