"""`mas --help` stays fast: no provider SDK, no tokenizer, no engine, no Typer at start-up."""

from __future__ import annotations

import os
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
    "opentelemetry",
    "google.protobuf",
    "requests",
    "mas_cli.export",
    "temporalio",
    "mas_cli.fleet",
)
# `mas --version` answers before the command-line framework loads; `mas --help` before Typer.
FRAMEWORK = ("typer", "click", "rich", "mas_cli.cli.app")
TYPER = ("typer", "click", "mas_cli.cli.app", "mas_cli.cli.run", "mas_cli.cli.runs")


def _modules_after(
    argv: list[str], ok: tuple[int, ...] = (0,), env: dict[str, str] | None = None
) -> set[str]:
    script = textwrap.dedent(
        f"""
        import sys
        from mas_cli.cli import main
        sys.argv = ["mas", *{argv!r}]
        try:
            raise SystemExit(main())
        finally:
            sys.stderr.write("\\nMODULES " + " ".join(sorted(sys.modules)))
        """
    )
    environ = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, env=environ
    )
    assert done.returncode in ok, done.stderr
    return set(done.stderr.rsplit("MODULES ", 1)[1].split())


def test_help_imports_no_sdk_or_tokenizer() -> None:
    for flag in ("--help", "-h"):
        loaded = _modules_after([flag])
        assert "mas_cli.cli.quickhelp" in loaded  # the probe works
        assert loaded.isdisjoint(HEAVY + TYPER), sorted(loaded & set(HEAVY + TYPER))


def test_subcommand_help_imports_no_sdk_or_tokenizer() -> None:
    loaded = _modules_after(["run", "--help"])
    assert "typer" in loaded  # the probe works
    heavy = set(HEAVY) - {"pydantic"}  # Typer 0.29 builds its parameter adapters with pydantic
    assert loaded.isdisjoint(heavy), sorted(loaded & heavy)


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


# Readers of runs: the run log's events (as msgspec Structs), never the crew file's models,
# PyYAML or prices.
CREW_SIDE = ("mas_cli.spec.models", "mas_cli.spec.model_spec", "yaml", "genai_prices", "tiktoken")


# Every read-only command: no provider SDK, no tokenizer, no engine, no tool runtime.
NOT_READERS = (
    "openai",
    "anthropic",
    "httpx",
    "httpx2",
    "tiktoken",
    "mas_cli.engine",
    "mas_cli.llm.openai",
    "mas_cli.llm.anthropic",
    "rich.markdown",
    "markdown_it",
    "pygments",
)


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
    result = run_crew(crew, tmp_path / "home")
    assert result.status == "ok"
    log = str(Path(result.run_dir) / "events.jsonl")
    for argv, probe in (
        (["runs", "--home", home], "mas_cli.events.logged"),
        (["show", "--last", "--home", home], "mas_cli.events.logged"),
        (["cost-report", "--last", "--home", home], "mas_cli.events.logged"),
        (["triage", "loops", log], "mas_cli.triage.loops"),
    ):
        loaded = _modules_after(argv)
        assert probe in loaded  # the probe works
        unwanted = set(CREW_SIDE + NOT_READERS + ("mas_cli.tools", "jsonschema"))
        assert loaded.isdisjoint(unwanted), (argv, sorted(loaded & unwanted))


def test_validate_and_the_other_readers_load_no_sdk_tokenizer_or_engine(tmp_path: Path) -> None:
    """`mas validate` needs the crew's models, not the SDKs, the tokenizer or (once the price
    cache knows the crew's models) genai-prices; `cache stats` and `triage state` neither."""
    fraud = Path(__file__).resolve().parent.parent / "crews" / "fraud-review" / "crew.yaml"
    home = str(tmp_path / "home")
    first = _modules_after(["run", str(fraud), "--offline", "--quiet", "--home", home])
    assert "genai_prices" in first  # a first run looks the prices up, and fills the cache
    (run_dir,) = (tmp_path / "home" / "runs").iterdir()
    state, log = run_dir / "state.json", run_dir / "events.jsonl"
    for argv, probe in (
        (["validate", str(fraud)], "mas_cli.spec.models"),
        (["cache", "stats", "--home", home], "mas_cli.tools.cache_admin"),
        (["triage", "state", str(state), "--log", str(log)], "mas_cli.triage.state"),
    ):
        loaded = _modules_after(argv, ok=(0, 1))
        assert probe in loaded  # the probe works
        # No event loop either: asyncio's import loads ssl (a sixth of `validate`'s start-up)
        unwanted = {*NOT_READERS, "genai_prices", "asyncio", "ssl"}
        assert loaded.isdisjoint(unwanted), (argv, sorted(loaded & unwanted))


# Read-only commands parse without Typer (cli/fast.py) and load no SDK, tokenizer or engine
# (`validate` loads the price data: it prints the crew's worst-case cost).
READ_ONLY_HEAVY = (
    "openai",
    "anthropic",
    "tiktoken",
    "httpx",
    "mcp",
    "opentelemetry",
    "rich.markdown",
    "mas_cli.engine",
    "mas_cli.export",
    *TYPER,
)


def test_read_only_commands_import_no_sdk_tokenizer_or_typer(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    crew = str(root / "crews" / "fraud-review" / "crew.yaml")
    home = ["--home", str(tmp_path)]
    for argv, ok in (
        (["runs", *home], (0,)),
        (["show", "--last", *home], (2,)),  # no run yet: a usage error, at the same boundary
        (["cost-report", "--last", *home], (2,)),
        (["triage", "loops", str(root / "tests" / "fixtures")], (0, 1, 2)),
        (["cache", "stats", *home], (0,)),
        (["validate", crew], (0,)),
    ):
        loaded = _modules_after(argv, ok)
        assert "mas_cli.cli.fast" in loaded  # the probe works
        assert loaded.isdisjoint(READ_ONLY_HEAVY), (argv, sorted(loaded & set(READ_ONLY_HEAVY)))


def test_a_local_batch_and_its_status_load_no_temporal(tmp_path: Path) -> None:
    """The Temporal SDK is for `--engine temporal` and `mas worker` alone."""
    crew = Path(__file__).resolve().parent.parent / "crews" / "fraud-review" / "crew.yaml"
    items = tmp_path / "items.jsonl"
    items.write_text('{"transaction": "tx-1"}\n')
    home = ["--home", str(tmp_path / "home")]
    loaded = _modules_after(["batch", str(crew), "--inputs", str(items), "--offline", "-q", *home])
    assert "mas_cli.batch.runner" in loaded  # the probe works
    assert "temporalio" not in loaded
    assert not {m for m in loaded if m.startswith("mas_cli.fleet")}
    (batch,) = (tmp_path / "home" / "batches").iterdir()
    loaded = _modules_after(["batch", "status", batch.name, *home])
    assert "temporalio" not in loaded


def test_read_only_commands_import_no_pydantic_sdk_or_tokenizer(tmp_path: Path) -> None:
    """`runs`, `show`, `cost-report`, `triage loops` and `cache stats` read our log with
    msgspec (events/logged.py): no pydantic, no crew models, no jsonschema, no SDK."""
    from crewkit import run

    home = tmp_path / "home"
    result = run(
        Path(__file__).resolve().parent.parent / "crews" / "support-ticket" / "crew.yaml", home
    )  # tool calls, cache
    log, at = str(Path(result.run_dir) / "events.jsonl"), ["--home", str(home)]
    commands = {
        ("runs", *at): "mas_cli.events.logged",
        ("runs", "--json", *at): "mas_cli.events.logged",
        ("show", "--last", *at): "mas_cli.events.logged",
        ("show", "--last", "--json", *at): "mas_cli.events.logged",
        ("show", "--last", "--full", *at): "mas_cli.events.transcript",
        ("cost-report", "--last", *at): "mas_cli.cost.report",
        ("cost-report", "--last", "--by", "tool", "--format", "md", *at): "mas_cli.cost.report",
        ("triage", "loops", log): "mas_cli.triage.report",
        ("cache", "stats", *at): "mas_cli.tools.cache_admin",
        ("cache", "stats", "--json", *at): "mas_cli.events.tool_use",
    }
    for argv, probe in commands.items():
        loaded = _modules_after(list(argv), ok=(0, 1))
        assert probe in loaded, argv  # the probe works
        assert loaded.isdisjoint(HEAVY + TYPER), (argv, sorted(loaded & set(HEAVY + TYPER)))


def test_an_offline_run_in_a_pipe_loads_no_tokenizer_jsonschema_or_rich(tmp_path: Path) -> None:
    """issue 19: the offline model counts without a tokenizer, fraud-review's schemas are plain
    (spec/plainschema.py), and a run whose stderr is a pipe writes its lines without rich."""
    crew = str(Path(__file__).parents[1] / "crews" / "fraud-review" / "crew.yaml")
    loaded = _modules_after(["run", crew, "--offline", "--home", str(tmp_path)])
    for name in ("tiktoken", "jsonschema", "rich", "mas_cli.engine.origin", "mas_cli.export"):
        assert name not in loaded, name
    assert "mas_cli.engine.run" in loaded


def test_read_only_commands_in_a_pipe_load_no_rich(tmp_path: Path) -> None:
    """issue 19: to a pipe, the tables, the tree and the lines of the read-only commands are
    written without rich (render/grid.py); in a terminal (FORCE_COLOR here), or for a table too
    wide to fit (folded), rich draws them."""
    from crewkit import run

    home = tmp_path / "home"
    crews = Path(__file__).resolve().parent.parent / "crews"
    run(crews / "support-ticket" / "crew.yaml", home)  # tool calls, cache hits
    result = run(crews / "fraud-review" / "crew.yaml", home)
    log, at = str(Path(result.run_dir) / "events.jsonl"), ["--home", str(home)]
    commands = [
        ["runs", *at],
        ["runs", "--json", *at],
        ["show", "--last", *at],
        ["cost-report", "--last", *at],
        ["cost-report", "--last", "--by", "tool", *at],
        ["cost-report", "--all", *at],
        ["triage", "loops", log],
        ["cache", "stats", *at],
        ["validate", str(crews / "fraud-review" / "crew.yaml")],
        ["validate", "--json", str(crews / "fraud-review" / "crew.yaml")],
    ]
    empty = ["--home", str(tmp_path / "empty")]
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nagents: {a: {role: R, model: nope}}\ntasks: [{id: t}]\n")
    mistakes = [["show", "--last", *empty], ["runs", "--status", "nope", *at]]  # said, exit 2
    mistakes.append(["validate", str(broken)])
    for argv in commands + mistakes:
        loaded = _modules_after(argv, ok=(0, 1, 2))
        assert "mas_cli.cli.fast" in loaded  # the probe works
        assert not {m for m in loaded if m == "rich" or m.startswith("rich.")}, argv
        assert "mas_cli.cli.render.base" not in loaded, argv
    terminal = (["show", "--last", *at], ["cache", "stats", *at], commands[-2])
    for argv in terminal:
        assert "rich" in _modules_after(argv, env={"FORCE_COLOR": "1"}), argv
    assert "rich.table" in _modules_after(["runs", *at], env={"COLUMNS": "40"})
