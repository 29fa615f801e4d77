"""`mas --help` stays fast: no provider SDK, no tokenizer, no engine at start-up."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = (
    "openai",
    "anthropic",
    "tiktoken",
    "httpx",
    "httpx2",
    "diskcache",
    "jsonschema",
    "genai_prices",
)


def _modules_after(argv: list[str]) -> set[str]:
    script = textwrap.dedent(
        f"""
        import sys
        from mas_cli.cli import main
        sys.argv = ["mas", *{argv!r}]
        try:
            main()
        finally:
            sys.stderr.write("\\nMODULES " + " ".join(sorted(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.rsplit("MODULES ", 1)[1].split())


def test_help_imports_no_sdk_or_tokenizer() -> None:
    loaded = _modules_after(["--help"])
    assert "typer" in loaded  # the probe works
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_version_imports_no_sdk_or_tokenizer() -> None:
    assert _modules_after(["--version"]).isdisjoint(HEAVY)


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mas_cli", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("mas ")
