"""README promises no other test attacked: secrets in odd places and budgets held per agent.

Each test tries to break one sentence of README.md and names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer, Reply
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()


def _files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    crew = tmp_path / "crew.yaml"
    crew.write_text(json.dumps(doc), encoding="utf-8")
    return crew


# README, Keys and secrets: "a password written into a base_url" is a known secret.
@pytest.mark.parametrize(
    ("written", "password"),
    [("pw-canary-77x", "pw-canary-77x"), ("pw%40canary-77x", "pw@canary-77x")],
)
def test_a_base_url_password_echoed_by_its_server_is_scrubbed_everywhere(
    tmp_path: Path, server: FakeServer, clean_env: Path, written: str, password: str
) -> None:
    echo = f"your password {password} (written {written}) is wrong"
    server.openai.push(Reply(401, {"error": {"message": echo, "code": password}}))
    base_url = server.url.replace("://", f"://user:{written}@") + "/v1"
    crew = _write(
        tmp_path,
        {
            "name": "pw",
            "models": {"m": {"provider": "openai", "model": "gpt-4o-mini", "base_url": base_url}},
            "limits": {"max_retries": 0},
            "agents": {"a": {"role": "A", "model": "m"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
        },
    )
    result = runner.invoke(app, ["run", str(crew)])
    assert result.exit_code == 1, result.output
    shown = result.stdout + result.stderr
    assert "your password ***" in shown
    for secret in (password, written):
        assert secret not in shown
        for path in _files(clean_env):
            assert secret.encode() not in path.read_bytes(), path
