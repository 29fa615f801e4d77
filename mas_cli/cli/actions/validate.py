"""`mas validate`: load crew files and print a summary of each, or all of its problems."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mas_cli import records
from mas_cli.cli.exits import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from mas_cli.cost.budget import RunBound
    from mas_cli.errors import Problem
    from mas_cli.spec.loader import Crew
    from mas_cli.spec.summary import Validation


def validate(*, crews: list[Path], strict: bool, json_out: bool) -> int:
    """Check each file; exit 2 when one is not valid (or has warnings, with strict)."""
    from mas_cli.cli import render
    from mas_cli.cli.render.cost import worst_case
    from mas_cli.cli.render.validate import validation
    from mas_cli.cost.budget import worst_case_bound
    from mas_cli.spec.summary import check_file

    reports = [_probed(check_file(path)) for path in crews]
    bounds = [worst_case_bound(r.spec) if r.spec else None for r in reports]
    if json_out:
        render.json_out([_with_bound(r.to_json(), b) for r, b in zip(reports, bounds, strict=True)])
    else:
        for report, bound in zip(reports, bounds, strict=True):
            validation(report)
            if bound is not None:
                worst_case(bound)
    failed = any(not r.ok or (strict and r.warnings) for r in reports)
    return EXIT_USAGE if failed else EXIT_OK


def _probed(report: Validation) -> Validation:
    """Import the crew's own tool files and check its examples, as a run would meet them; start
    its MCP servers and check what they offer."""

    from mas_cli.spec.loader import Crew
    from mas_cli.tools.probe import probe_tools

    if report.spec is None:
        return report
    crew = Crew(report.spec, Path(report.path))
    found = probe_tools(crew)
    served, report = _served(crew, report)
    problems = [*report.problems, *found, *served]
    return records.replace(report, problems=problems) if found or served else report


def _served(crew: Crew, report: Validation) -> tuple[list[Problem], Validation]:
    """Problems of the crew's MCP servers, and the report with what each offers; the MCP client
    is loaded only for a crew that has servers."""
    from mas_cli.spec import mcp as spec_mcp

    if not spec_mcp.servers(crew.spec):
        return [], report
    from mas_cli.tools.mcp.probe import probe_servers, with_offers

    served, offers = probe_servers(crew)
    return served, with_offers(report, offers)


def _with_bound(doc: dict[str, Any], bound: RunBound | None) -> dict[str, Any]:
    return {**doc, "worst_case": bound.to_json() if bound else None}
