"""Derived from the Typer commands (python -m mas_cli.cli.fastargs): do not edit."""

from __future__ import annotations

from mas_cli.cli.fast import Param

PARAMS: dict[tuple[str, ...], tuple[Param, ...]] = {
    ("runs",): (
        Param("home", ("--home",), (), "path", False, False, None),
        Param("limit", ("--limit", "-n"), (), "int", False, False, 20),
        Param("crew", ("--crew",), (), "str", False, False, None),
        Param("status", ("--status",), (), "str", False, False, None),
        Param("since", ("--since",), (), "str", False, False, None),
        Param("json_out", ("--json",), (), "bool", False, False, False),
        Param("batch", ("--batch",), (), "str", False, False, None),
        Param("last_batch", ("--last-batch",), (), "bool", False, False, False),
        Param("batches", ("--batches",), (), "bool", False, False, False),
    ),
    ("show",): (
        Param("run", (), (), "str", False, False, None),
        Param("last", ("--last",), (), "bool", False, False, False),
        Param("home", ("--home",), (), "path", False, False, None),
        Param("full", ("--full",), (), "bool", False, False, False),
        Param("json_out", ("--json",), (), "bool", False, False, False),
        Param("batch", ("--batch",), (), "str", False, False, None),
        Param("last_batch", ("--last-batch",), (), "bool", False, False, False),
    ),
    ("cost-report",): (
        Param("runs", (), (), "str", True, False, None),
        Param("last", ("--last",), (), "bool", False, False, False),
        Param("home", ("--home",), (), "path", False, False, None),
        Param(
            "by", ("--by",), (), "choice:mas_cli.cli.actions.cost:ByChoice", False, False, "agent"
        ),
        Param("compare", ("--compare",), (), "str", False, False, None),
        Param("all_runs", ("--all",), (), "bool", False, False, False),
        Param("crew", ("--crew",), (), "str", False, False, None),
        Param("since", ("--since",), (), "str", False, False, None),
        Param("fmt", ("--format", "-f"), (), "str", False, False, "table"),
        Param("json_out", ("--json",), (), "bool", False, False, False),
        Param("fail_over", ("--fail-over",), (), "str", False, False, None),
        Param("baseline", ("--baseline",), (), "str", False, False, None),
        Param("max_increase", ("--max-increase",), (), "str", False, False, None),
        Param("batch", ("--batch",), (), "str", False, False, None),
        Param("last_batch", ("--last-batch",), (), "bool", False, False, False),
    ),
    ("triage", "loops"): (
        Param("logs", (), (), "str", True, False, None),
        Param("log_format", ("--log-format",), (), "str", False, False, "auto"),
        Param("pattern", ("--pattern",), (), "str", False, False, None),
        Param("threshold", ("--threshold", "-t"), (), "str", True, False, None),
        Param("crew", ("--crew",), (), "path", False, False, None),
        Param("fmt", ("--format", "-f"), (), "str", False, False, "table"),
        Param("json_out", ("--json",), (), "bool", False, False, False),
        Param("fail_on", ("--fail-on",), (), "str", False, False, "error"),
        Param("follow", ("--follow",), (), "bool", False, False, False),
        Param("exit_on", ("--exit-on",), (), "str", False, False, None),
        Param("on_finding", ("--on-finding",), (), "str", False, False, None),
        Param("last", ("--last",), (), "bool", False, False, False),
        Param("batch", ("--batch",), (), "str", False, False, None),
        Param("last_batch", ("--last-batch",), (), "bool", False, False, False),
        Param("home", ("--home",), (), "path", False, False, None),
    ),
    ("cache", "stats"): (
        Param("home", ("--home",), (), "path", False, False, None),
        Param("json_out", ("--json",), (), "bool", False, False, False),
    ),
    ("validate",): (
        Param("crews", (), (), "path", True, True, None),
        Param("strict", ("--strict",), (), "bool", False, False, False),
        Param("json_out", ("--json",), (), "bool", False, False, False),
    ),
    ("run",): (
        Param("crew", (), (), "path", False, True, None),
        Param("input_pairs", ("--input", "-i"), (), "str", True, False, None),
        Param("inputs_file", ("--inputs",), (), "path", False, False, None),
        Param("limit", ("--limit",), (), "str", True, False, None),
        Param("offline", ("--offline",), (), "bool", False, False, False),
        Param("replay", ("--replay",), (), "str", False, False, None),
        Param("home", ("--home",), (), "path", False, False, None),
        Param("json_out", ("--json",), (), "bool", False, False, False),
        Param("quiet", ("--quiet", "-q"), (), "bool", False, False, False),
        Param("estimate", ("--estimate",), (), "bool", False, False, False),
        Param("otel", ("--otel",), (), "bool", False, False, False),
        Param("otel_endpoint", ("--otel-endpoint",), (), "str", False, False, None),
    ),
}
