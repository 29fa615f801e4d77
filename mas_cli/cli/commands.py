"""The one table of `mas` commands: app.py registers them from it, quickhelp.py lists them.

Each row names the command, where its function (or sub-app) lives, and the line `mas --help`
shows for it. Nothing here imports Typer or a command module, so `mas --help` can read it
without loading either. tests/test_quickhelp.py holds the fast help equal to Typer's own.
"""

from __future__ import annotations

from typing import NamedTuple

APP_HELP = "Run multi-agent LLM crews with guard rails, and triage what they leave behind."


class Command(NamedTuple):
    """One command: `name`, `target` as `module:attribute`, its line in `mas --help`."""

    name: str
    target: str
    summary: str
    group: bool = False  # a Typer sub-app with commands of its own (`mas runs prune`)


COMMANDS: tuple[Command, ...] = (
    Command(
        "init",
        "mas_cli.cli.init:init",
        "Write a starter crew (two agents, a tool, a state schema, limits) that runs offline.",
    ),
    Command(
        "run",
        "mas_cli.cli.run:run",
        "Run a crew to completion or to a clear stop; every step goes to the run log.",
    ),
    Command(
        "batch",
        "mas_cli.cli.batch:batch",
        "Run a crew over many inputs (JSONL or CSV): shared budgets, a breaker, dead letters.",
    ),
    Command(
        "worker",
        "mas_cli.cli.fleet:worker",
        "Run the items of batches on Temporal (mas batch --engine temporal) on this machine.",
    ),
    Command(
        "resume",
        "mas_cli.cli.resume:resume",
        "Continue a stopped run or batch: finished work kept, recorded calls replayed free.",
    ),
    Command(
        "runs",
        "mas_cli.cli.runs:app",
        "List recent runs; `mas runs prune` removes old ones.",
        group=True,
    ),
    Command(
        "show",
        "mas_cli.cli.runs:show",
        "Draw a run as a tree: tasks, turns, model and tool calls, state writes, limit hits.",
    ),
    Command(
        "view",
        "mas_cli.cli.view:view",
        "Write a run or a batch as one self-contained HTML page: timeline, costs, findings.",
    ),
    Command(
        "validate",
        "mas_cli.cli.validate:validate",
        "Check crew files: structure, references, the task graph, prompts, tools and schemas.",
    ),
    Command(
        "triage",
        "mas_cli.cli.triage:app",
        "Find loops in agent logs and bad values in shared state.",
        group=True,
    ),
    Command(
        "cost-report",
        "mas_cli.cli.cost:cost_report",
        "What runs cost: totals, a breakdown, the self-check, and CI gates.",
    ),
    Command(
        "export",
        "mas_cli.cli.export:export",
        "Export runs as OpenTelemetry spans: to an OTLP JSON file or an OTLP/HTTP endpoint.",
    ),
    Command(
        "tool-test",
        "mas_cli.cli.tooltest:tool_test",
        "Run a tool alone, with no model: latency, output, determinism, its own traceback.",
    ),
    Command(
        "cache",
        "mas_cli.cli.cache:app",
        "The tool cache: what it holds, clearing it, why a call missed.",
        group=True,
    ),
)


def listed() -> list[Command]:
    """The commands in the order Typer lists them: plain commands first, then groups."""
    return [c for c in COMMANDS if not c.group] + [c for c in COMMANDS if c.group]
