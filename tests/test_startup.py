"""`mas --help` stays fast: no provider SDK, no tokenizer, no engine at start-up."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = (
    "openai",
    "anthropic",
    "tiktoken",
    "httpx",
    "httpx2",
    "mcp",
    "mcp_types",
    "diskcache",
    "jsonschema",
    "genai_prices",
    "pydantic",
    "yaml",
    "rich.markdown",
    "rich.traceback",
    "markdown_it",
    "pygments",
    "mas_cli.spec.models",
    "mas_cli.engine",
)
# `mas --version` answers before the command-line framework loads.
FRAMEWORK = ("typer", "click", "rich", "mas_cli.cli.app")


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
    loaded = _modules_after(["--version"])
    assert "mas_cli.cli" in loaded  # the probe works
    assert loaded.isdisjoint(HEAVY + FRAMEWORK), sorted(loaded & set(HEAVY + FRAMEWORK))


def test_help_renders_without_markdown_then_markdown_still_works() -> None:
    """The help renderer's stand-ins for rich's Markdown and Traceback load the real ones on use."""
    script = textwrap.dedent(
        """
        import sys
        from typer.testing import CliRunner
        from mas_cli.cli import app
        done = CliRunner().invoke(app, ["--help"])
        assert done.exit_code == 0 and "Usage" in done.output, done.output
        assert "rich.markdown" not in sys.modules
        from typer import rich_utils
        from rich.console import Console
        console = Console(record=True, width=40)
        console.print(rich_utils.Markdown("# Title\\n\\n*some* text"))
        assert "Title" in console.export_text()
        try:
            raise ValueError("boom")
        except ValueError as exc:
            assert rich_utils.Traceback.from_exception(type(exc), exc, exc.__traceback__)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_version_through_a_closed_pipe_exits_zero() -> None:
    done = subprocess.run(
        f"{sys.executable} -m mas_cli --version | true",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr == ""


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mas_cli", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("mas ")


# Readers of runs: the run log's event models, never the crew file's models, PyYAML or prices.
CREW_SIDE = ("mas_cli.spec.models", "mas_cli.spec.model_spec", "yaml", "genai_prices", "tiktoken")


def test_readers_of_runs_load_no_crew_models(tmp_path: Path) -> None:
    from crewkit import run as run_crew
    from crewkit import write_crew

    crew = write_crew(
        tmp_path / "crew",
        """
        name: tiny
        models: {m: {provider: openai, model: gpt-4o-mini}}
        agents: {a: {role: A, goal: answer, model: m}}
        tasks: [{id: t, agent: a, prompt: "Say hi."}]
        """,
    )
    home = str(tmp_path / "home")
    assert run_crew(crew, tmp_path / "home").status == "ok"
    for argv in (["runs"], ["show", "--last"], ["cost-report", "--last"]):
        loaded = _modules_after([*argv, "--home", home])
        assert "mas_cli.events.models" in loaded  # the probe works
        assert loaded.isdisjoint(CREW_SIDE), (argv, sorted(loaded & set(CREW_SIDE)))
