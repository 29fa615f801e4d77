"""`mas cache stats | clear | explain`: look after the deterministic-output tool cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mas_cli.cli.options import EXIT_OK, EXIT_USAGE, HomeOption
from mas_cli.cli.tooltest import ArgOption, ArgsOption, CrewOption

app = typer.Typer(
    help="The tool cache: what it holds, clearing it, why a call missed.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@app.command("stats")
def stats(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Entries and size per tool, and hit rates from the run logs."""
    from mas_cli.cli.actions.cache import stats as action

    raise typer.Exit(action(home=home, json_out=json_out))


@app.command("clear")
def clear(
    tool: Annotated[
        str | None, typer.Option("--tool", help="Only this tool's entries.", show_default=False)
    ] = None,
    home: HomeOption = None,
) -> None:
    """Remove every entry, or one tool's."""
    from mas_cli.cli.render.cache import cleared
    from mas_cli.events.store import home_dir
    from mas_cli.tools.cache import cache_dir
    from mas_cli.tools.cache_admin import clear_cache

    where = cache_dir(home_dir(home))
    if tool is not None:
        _known_tool(where, tool)
    cleared(clear_cache(where, tool), tool, str(where))


def _known_tool(where: Path, tool: str) -> None:
    """A --tool with no entries while other tools have some is a typo (exit 2, did-you-mean)."""
    from mas_cli.errors import UsageError
    from mas_cli.spec.findings import did_you_mean
    from mas_cli.tools.cache_admin import cache_stats

    tools = {t.tool for t in cache_stats(where).tools}
    if tools and tool not in tools:
        hint = did_you_mean(tool, tools) or f"tools with entries: {', '.join(sorted(tools))}"
        raise UsageError(f"the cache holds no entries of tool {tool!r}", hint=hint)


@app.command("explain")
def explain(
    tool: Annotated[str, typer.Argument(help="The tool: a name under tools:.", show_default=False)],
    crew: CrewOption = None,
    pairs: ArgOption = None,
    args_json: ArgsOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """The inputs of one call's key; on a miss, the nearest entry and the inputs that differ.

    Exit 0, or 2 when the arguments are bad (such a call fails, and failures are never cached).
    """
    from mas_cli.cli.render.cache import explanation
    from mas_cli.events.store import home_dir
    from mas_cli.tools.cache_explain import explain_call

    result = explain_call(crew, tool, pairs or [], args_json, home_dir(home))
    explanation(result, as_json=json_out)
    raise typer.Exit(EXIT_USAGE if result.problems else EXIT_OK)
