"""The tier itself: a server that cannot start, or a component that cannot install, fails
with what failed, the last lines of its log and how to fix it; it is never skipped."""

from __future__ import annotations

import sys
from pathlib import Path

import install
import pytest
from servers import free_port, quiet_env, running


def test_a_server_that_exits_while_starting_fails_with_its_log(tmp_path: Path) -> None:
    port = free_port()
    crash = "import sys; print('bind: address already in use'); sys.exit(3)"
    cmd = [sys.executable, "-c", crash, "--port", str(port)]
    with (
        pytest.raises(pytest.fail.Exception) as failed,
        running("toy", cmd, "/health", tmp_path / "toy.log", quiet_env()),
    ):
        pass
    message = str(failed.value)
    assert f"toy on 127.0.0.1:{port} exited with code 3 while starting" in message
    assert "bind: address already in use" in message
    assert "python tests/realservers/install.py" in message


def test_a_failed_install_step_says_what_and_shows_the_log(tmp_path: Path) -> None:
    log = tmp_path / "install.log"
    with pytest.raises(install.InstallError) as failed:
        install.run_logged(
            "pip install nothing", [sys.executable, "-c", "raise SystemExit('no')"], log
        )
    message = str(failed.value)
    assert message.startswith("pip install nothing failed (exit 1); last lines of")
    assert "no" in message.splitlines()[-2]
    assert "rerun `python tests/realservers/install.py`" in message


def test_the_server_environment_holds_no_provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("MY_BASE_URL", "http://elsewhere")
    env = quiet_env()
    assert "OPENAI_API_KEY" not in env
    assert "MY_BASE_URL" not in env
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
