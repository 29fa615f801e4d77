"""`mas triage loops` throughput and peak memory on a generated file of each other log format.

Run: `python bench/bench_formats.py [--formats otlp,jaeger,langfuse] [--mb 100]`. Each file is
generated once into bench/.cache/formats/ (gitignored), pretty-printed as the format's exports
are saved: many traces of an agent, its model calls and its tool calls, some of them looping.
Each is then triaged in a fresh process, which reports its time (wall and CPU: on a shared
machine the CPU figure is the steadier one) and its peak RSS.

A format is added by a generator in GENERATORS: a function writing about `size` bytes to a file.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "formats"
T0 = 1_764_990_000_000_000_000
AGENTS = ("scorer", "critic", "judge")


def _calls(rng: random.Random, trace: int) -> Iterator[tuple[str, str, str, int]]:
    """(kind, span id, tool or model, ns) of one trace: a few tools, one in five loops."""
    loops = trace % 5 == 0
    for i in range(12):
        t = T0 + trace * 60_000_000_000 + i * 1_000_000_000
        if i % 3 == 0:
            yield "chat", f"{trace:08x}{i:08x}", "gpt-4o-mini", t
        else:
            tool = "search" if loops else rng.choice(("search", "lookup", "score"))
            yield "tool", f"{trace:08x}{i:08x}", tool, t


def _otlp_attrs(kind: str, name: str, rng: random.Random) -> dict[str, Any]:
    if kind == "chat":
        return {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": name,
            "gen_ai.usage.input_tokens": rng.randint(500, 3000),
            "gen_ai.usage.output_tokens": rng.randint(20, 200),
        }
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.arguments": json.dumps({"query": "refund policy"}),
    }


def _otlp_value(value: Any) -> dict[str, Any]:
    return {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}


def _otlp_span(
    trace: str, span: str, parent: str, name: str, *, t: int, attrs: dict[str, Any]
) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(t),
        "endTimeUnixNano": str(t + 500_000_000),
        "attributes": [{"key": k, "value": _otlp_value(v)} for k, v in attrs.items()],
        "status": {},
    }


def _trace(
    rng: random.Random, trace: int, make: Callable[..., Any], under: Any, root: Any
) -> list[Any]:
    """One trace's spans, the agent's last (spans are exported as they end), each made by
    `make(trace id, span id, parent, name, t=, attrs=)`: `under` the agent, or `root`."""
    trace_id, agent = f"{trace:032x}", f"{trace:016x}"
    spans = [
        make(trace_id, sid, under, f"{kind} {name}", t=t, attrs=_otlp_attrs(kind, name, rng))
        for kind, sid, name, t in _calls(rng, trace)
    ]
    attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENTS[trace % 3]}
    t = T0 + trace * 60_000_000_000
    return [*spans, make(trace_id, agent, root, "invoke_agent", t=t, attrs=attrs)]


def write_otlp(out: TextIO, size: int) -> None:
    rng, trace = random.Random(7), 0
    out.write('{"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [\n')
    out.write('  {"scope": {"name": "bench"}, "spans": [\n')
    while out.tell() < size:
        spans = _trace(rng, trace, _otlp_span, under=f"{trace:016x}", root="")
        text = ",\n".join(json.dumps(span, indent=2) for span in spans)
        out.write(("" if trace == 0 else ",\n") + text)
        trace += 1
    out.write("\n]}]}]}\n")


def write_jaeger(out: TextIO, size: int) -> None:
    rng, trace = random.Random(7), 0
    out.write('{\n  "data": [\n')
    while out.tell() < size:
        trace_id, agent = f"{trace:032x}", f"{trace:016x}"
        ref = [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": agent}]
        spans = _trace(rng, trace, _jaeger_span, under=ref, root=[])
        processes = {"p1": {"serviceName": "bench", "tags": []}}
        doc = {"traceID": trace_id, "spans": spans, "processes": processes}
        out.write(("" if trace == 0 else ",\n") + json.dumps(doc, indent=2))
        trace += 1
    out.write('\n  ],\n  "total": 0, "limit": 0, "offset": 0, "errors": null\n}\n')


def _jaeger_span(
    trace: str, span: str, refs: list[Any], name: str, *, t: int, attrs: dict[str, Any]
) -> dict[str, Any]:
    tags = [
        {"key": k, "type": "int64" if isinstance(v, int) else "string", "value": v}
        for k, v in attrs.items()
    ]
    return {
        "traceID": trace,
        "spanID": span,
        "operationName": name,
        "references": refs,
        "startTime": t // 1000,
        "duration": 500_000,
        "tags": tags,
        "logs": [],
        "processID": "p1",
        "warnings": None,
    }


def write_langfuse(out: TextIO, size: int) -> None:
    rng, trace = random.Random(7), 0
    out.write("[\n")
    while out.tell() < size:
        trace_id, agent = f"{trace:032x}", f"{trace:016x}"
        observations = [
            _observation(
                trace_id,
                agent,
                None,
                "AGENT",
                name=AGENTS[trace % 3],
                t=T0 + trace * 60_000_000_000,
                attrs={},
            )
        ]
        for kind, sid, name, t in _calls(rng, trace):
            attrs = _otlp_attrs(kind, name, rng)
            observations.append(
                _observation(
                    trace_id,
                    sid,
                    agent,
                    "GENERATION" if kind == "chat" else "TOOL",
                    name=name,
                    t=t,
                    attrs=attrs,
                )
            )
        doc = {
            "trace": {"id": trace_id, "name": "bench", "timestamp": _iso(T0)},
            "observations": observations,
        }
        out.write(("" if trace == 0 else ",\n") + json.dumps(doc, indent=2))
        trace += 1
    out.write("\n]\n")


def _observation(
    trace: str,
    span: str,
    parent: str | None,
    kind: str,
    *,
    name: str,
    t: int,
    attrs: dict[str, Any],
) -> dict[str, Any]:
    usage = {
        "input": attrs.get("gen_ai.usage.input_tokens", 0),
        "output": attrs.get("gen_ai.usage.output_tokens", 0),
    }
    return {
        "id": span,
        "traceId": trace,
        "parentObservationId": parent,
        "type": kind,
        "name": name,
        "startTime": _iso(t),
        "level": "DEFAULT",
        "model": name if kind == "GENERATION" else None,
        "input": {"query": "refund policy"} if kind == "TOOL" else None,
        "usageDetails": usage,
        "calculatedTotalCost": 0.0002 if kind == "GENERATION" else None,
        "metadata": {"attributes": attrs, "resourceAttributes": {"service.name": "bench"}},
    }


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


GENERATORS: dict[str, Callable[[TextIO, int], None]] = {
    "otlp": write_otlp,
    "jaeger": write_jaeger,
    "langfuse": write_langfuse,
}

MEASURE = """
import sys, time
def peak_mb():  # VmHWM: ru_maxrss would count the forking parent's pages (it survives exec)
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
from mas_cli.triage.scan import ScanOptions, scan
start, cpu = time.perf_counter(), time.process_time()
report = scan([sys.argv[1]], ScanOptions(keep=20))
took, cpu = time.perf_counter() - start, time.process_time() - cpu
print(report.sources[0][1], report.records, report.found, report.bad.count, took, cpu,
      peak_mb())
"""


def generated(fmt: str, mb: int) -> Path:
    """The benchmark file of a format, generated on first use."""
    path = CACHE / f"{fmt}-{mb}mb.json"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        with partial.open("w") as out:
            GENERATORS[fmt](out, mb << 20)
        partial.rename(path)
    return path


def measure(path: Path) -> list[str]:
    """Triage one file in a fresh process: its figures as printed table cells."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    fmt, records, found, bad, took, cpu, peak = done.stdout.split()
    size = path.stat().st_size / (1 << 20)
    wall, busy = float(took), float(cpu)
    return [
        fmt,
        f"{size:.0f}",
        records,
        found,
        bad,
        f"{wall:.1f}",
        f"{busy:.1f}",
        f"{size / wall:.1f}",
        f"{size / busy:.1f}",
        f"{float(peak):.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--formats", default=",".join(GENERATORS), help="comma-separated: " + ", ".join(GENERATORS)
    )
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    rows = [
        [
            "format",
            "MB",
            "records",
            "findings",
            "skipped",
            "s",
            "cpu s",
            "MB/s",
            "MB/s cpu",
            "peak RSS MB",
        ]
    ]
    for fmt in args.formats.split(","):
        rows.append(measure(generated(fmt, args.mb)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
