"""Errors before and at the first call name what to fix: every missing key, the server's address."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.llm.faults import server_of

runner = CliRunner()


def test_the_missing_key_error_names_every_key_the_crew_needs(tmp_path: Path) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        "name: c\n"
        "agents:\n"
        "  a: {role: A, model: 'openai:gpt-4o-mini'}\n"
        "  b: {role: B, model: 'anthropic:claude-haiku-4-5'}\n"
        "  c: {role: C, model: 'openai:gpt-4o'}\n"
        "tasks: [{id: t, agent: a, prompt: hi}, {id: u, agent: b, prompt: hi}, "
        "{id: v, agent: c, prompt: hi}]\n",
        encoding="utf-8",
    )
    done = runner.invoke(app, ["run", str(crew)])
    assert done.exit_code == 2
    assert "OPENAI_API_KEY and ANTHROPIC_API_KEY are not set. Export them, or run offline" in (
        done.stderr
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_connection_error_names_the_server(tmp_path: Path) -> None:
    port = _closed_port()
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        "name: c\n"
        "models: {local: {provider: openai, model: llama3.2, "
        f"base_url: 'http://127.0.0.1:{port}/proxy/token-abc/v1'}}}}\n"
        "limits: {max_retries: 0}\n"
        "agents: {a: {role: A, model: local}}\n"
        "tasks: [{id: t, agent: a, prompt: hi}]\n",
        encoding="utf-8",
    )
    done = runner.invoke(app, ["run", str(crew)])
    assert done.exit_code == 1, done.stderr
    assert f"could not connect to 127.0.0.1:{port}" in done.stderr
    assert "token-abc" not in done.stderr  # the URL's path may hold a key: host and port only


def test_the_server_is_host_and_port_only() -> None:
    assert server_of(None, "openai") == "api.openai.com:443"
    assert server_of(None, "anthropic") == "api.anthropic.com:443"
    assert server_of("http://user:secret@localhost:11434/v1?key=k", "openai") == "localhost:11434"
    assert server_of("https://openrouter.ai/api/v1", "openai") == "openrouter.ai:443"
    assert server_of("not a url", "openai") == "the server at base_url"
