"""One run's view as one HTML file: header, timeline, findings, charts, shared state, details.

Everything a log says reaches the page escaped: as text in HTML and SVG (`svg.esc`), or as JSON
in a `<script type="application/json">` block whose `<`, `>` and `&` are written as `\\u003c`...,
so no value can close the block. The page's own script shows a clicked call's details with
`textContent`, never as markup, and a Content-Security-Policy with a fresh nonce lets only the
page's own script and style run: nothing is fetched and no inline handler ever runs.
"""

from __future__ import annotations

import json
import math
import secrets
from importlib import resources
from typing import Any

from mas_cli.events.logged import NOT_WRITTEN
from mas_cli.events.runs import unfinished_status
from mas_cli.triage.findings import Finding
from mas_cli.view.charts import cost_bars, token_lines
from mas_cli.view.read import MAX_CALLS, Run
from mas_cli.view.svg import cut, esc
from mas_cli.view.timeline import Band, timeline
from mas_cli.words import plural


def asset(name: str) -> str:
    """The text of one of the page's own files (CSS, JavaScript)."""
    return resources.files("mas_cli.view").joinpath("static", name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """JSON safe inside a <script> block: nothing in it can end the block or open a comment.
    A number JSON cannot hold (a log's NaN or Infinity) is null."""
    text = json.dumps(_finite(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw, safe in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(raw, safe)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _finite(value: Any) -> Any:
    """`value` with every float that is not finite as None, containers rebuilt, without
    recursion (a deeply nested value cannot overflow the stack)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, dict | list):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack = [(value, root)]
    while stack:
        source, into = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            kept: Any = item
            if isinstance(item, dict | list):
                kept = {} if isinstance(item, dict) else []
                stack.append((item, kept))
            elif isinstance(item, float) and not math.isfinite(item):
                kept = None
            if isinstance(into, dict):
                into[key] = kept
            else:
                into.append(kept)
    return root


def html_page(title_text: str, body: str, data: Any) -> str:
    """A whole self-contained page around `body`, with the view's CSS, data and script."""
    nonce = secrets.token_urlsafe(16)
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}';"
        " img-src data:; base-uri 'none'; form-action 'none'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title_text)}</title>"
        f'<style nonce="{nonce}">{asset("view.css")}</style></head><body>'
        f'{body}<aside id="details" hidden></aside>'
        f'<script id="mas-data" type="application/json">{script_json(data)}</script>'
        f'<script nonce="{nonce}">{asset("view.js")}</script></body></html>\n'
    )


def run_page(run: Run, findings: list[Finding], bands: list[Band], note: str) -> str:
    """The view of one run."""
    body = "".join(
        (
            _header(run),
            _section("timeline", "Timeline", _timeline(run, bands)),
            _section("findings", "Findings of mas triage loops", _findings(findings, note)),
            _section("cost", "Cost", _costs(run)),
            _section("tokens", "Input tokens per turn, per agent", token_lines(run.turns)),
            _section("state", "Shared state", _state(run)),
        )
    )
    data = {"calls": [c.detail | {"kind": c.kind} for c in run.calls]}
    return html_page(f"mas view · {run.info.get('crew', '')} · {run.run_id}", body, data)


def _section(key: str, heading: str, inner: str) -> str:
    return f'<section id="{key}"><h2>{esc(heading)}</h2>{inner}</section>'


def _header(run: Run) -> str:
    fin, info, spent = run.finish, run.info, run.spent
    # no run_finished: `running` or `killed`, the words of `mas runs` and `mas show`
    status = str(fin["status"]) if "status" in fin else unfinished_status(run.path.parent)
    cost = fin.get("cost_usd") if fin else spent.cost  # unfinished: what its calls spent so far
    tokens_in = fin.get("input_tokens", spent.input_tokens)
    tokens_out = fin.get("output_tokens", spent.output_tokens)
    facts = [
        ("status", status),
        ("duration", f"{fin.get('duration_s', run.end):.2f} s"),
        ("model calls", str(fin.get("llm_calls", run.llm_calls))),
        ("tool calls", str(fin.get("tool_calls", run.tool_calls))),
        ("tokens", f"{tokens_in:,} in · {tokens_out:,} out"),
        ("cost", "unpriced" if cost is None else f"${cost:.6f}"),
    ]
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    reason = f'<p class="reason">{esc(fin["reason"])}</p>' if fin.get("reason") else ""
    origin = "".join(
        f'<p class="sub">{esc(label)} {esc(info[key])}</p>'
        for key, label in _ORIGIN
        if info.get(key)
    )
    bad = (
        f'<p class="note">{plural(run.bad_lines, "unreadable line")} skipped '
        f"({esc(run.first_bad)})</p>"
        if run.bad_lines
        else ""
    )
    return (
        f'<header class="st-{esc(status)}"><h1>{esc(info.get("crew", "run"))}'
        f" <small>{esc(run.run_id)}</small></h1>"
        f'<p class="sub">process {esc(info.get("process", "?"))}'
        f'{" · offline" if info.get("offline") else ""}</p><dl class="facts">{items}</dl>'
        f"{origin}{reason}{bad}</header>"
    )


_ORIGIN = (
    ("resumed_from", "resumed from run"),
    ("replay_of", "replay of run"),
    ("batch_id", "item of batch"),
    ("item_key", "item"),
)

_LEGEND = (
    '<p class="legend"><span class="k llm"></span>model call <span class="k tool"></span>tool call'
    ' <span class="k wait"></span>wait <span class="k retry"></span>retry or failure'
    ' <span class="k limit"></span>limit hit <span class="k band"></span>finding'
    " · click a call for its details</p>"
)


def _timeline(run: Run, bands: list[Band]) -> str:
    more = ""
    if run.calls_seen > MAX_CALLS:
        more = f'<p class="note">the first {MAX_CALLS:,} of {run.calls_seen:,} calls are drawn</p>'
    return f'{_LEGEND}{more}<div class="scroll">{timeline(run, bands)}</div>'


def _findings(findings: list[Finding], note: str) -> str:
    if note:
        return f'<p class="note">{esc(note)}</p>'
    if not findings:
        return '<p class="empty">No loops found.</p>'
    head = "<tr><th>#</th><th>severity</th><th>finding</th><th>where</th><th>fix</th><th></th></tr>"
    rows = "".join(_finding_row(i, f) for i, f in enumerate(findings))
    return f'<div class="scroll"><table class="findings">{head}{rows}</table></div>'


def _finding_row(i: int, f: Finding) -> str:
    where = ", ".join(f.blamed) + (f" · task {f.task}" if f.task else "")
    return (
        f'<tr id="finding-{i}" class="sev-{esc(f.severity)}"><td>F{i + 1}</td>'
        f"<td>{esc(f.severity)}</td><td><b>{esc(f.detector)}</b> {esc(f.message)}</td>"
        f"<td>{esc(where)}</td><td>{esc(f.fix)}</td>"
        f'<td><a href="#timeline" data-finding-link="{i}">show on timeline</a></td></tr>'
    )


def _costs(run: Run) -> str:
    charts = (
        ("agent", run.by_agent),
        ("task", run.by_task),
        ("model", run.by_model),
    )
    return (
        '<div class="charts">'
        + "".join(
            f"<figure><figcaption>by {name}</figcaption>{cost_bars(name, rows)}</figure>"
            for name, rows in charts
        )
        + "</div>"
    )


def _state(run: Run) -> str:
    if not run.writes:
        return '<p class="empty">No shared-state writes.</p>'
    head = (
        "<tr><th>key</th><th>version</th><th>writer</th><th>agent</th><th>value</th>"
        "<th>outcome</th></tr>"
    )
    rows = "".join(map(_write_row, run.writes))
    return f'<div class="scroll"><table class="state">{head}{rows}</table></div>'


def _write_row(write: dict[str, Any]) -> str:
    accepted = bool(write.get("accepted"))
    made = write.get("version")
    version = f"{write.get('read_version')} → {made if made is not None else '—'}"
    raw = write.get("value")
    value = cut(raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False), 120)
    reason = str(write.get("reason") or "")
    unmade = not accepted and reason.startswith(NOT_WRITTEN)  # not refused for itself
    outcome = "accepted" if accepted else reason if unmade else f"refused: {reason}"
    kind = "ok" if accepted else "unwritten" if unmade else "refused"
    return (
        f'<tr class="{kind}"><td>{esc(write.get("key"))}</td>'
        f"<td>{esc(version)}</td><td>{esc(write.get('writer'))}</td>"
        f"<td>{esc(write.get('agent', ''))}</td><td><code>{esc(value)}</code></td>"
        f"<td>{esc(outcome)}</td></tr>"
    )
