"""Scale-out on Temporal: crews/fraud-review (offline) over N items, in-process (`mas batch`)
and on a local Temporal development server with one and with three `mas worker` processes.
Items per minute (wall), and CPU per item of every process involved (submitter, workers and
the Temporal server), whose difference with the in-process batch is Temporal's per-item
overhead. On a 2-core machine the third worker shows that overhead, not more cores.

Run: python bench/bench_temporal.py [--items 200]
(the Temporal CLI is installed, cached, by tests/realservers/install.py temporal)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

sys.path.insert(0, str(c.ROOT / "tests" / "realservers"))
import install  # the cached Temporal CLI

CREW = c.ROOT / "crews" / "fraud-review" / "crew.yaml"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU of a live process and its waited-for children (command tools)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICK


def write_items(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            tx = f"tx-{n}: ${(n * 37) % 9000 + 10} from acct-{n % 50} to a new payee at 03:{n % 60:02d}"
            out.write(json.dumps({"id": f"tx-{n}", "transaction": tx}) + "\n")
    return path


def mas(*args: str, home: Path) -> list[str]:
    return [sys.executable, "-m", "mas_cli", *args, "--home", str(home)]


def timed_batch(argv: list[str]) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds (user + sys, from /usr/bin/time) and the --json summary."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%U %S", *argv], capture_output=True, text=True, check=False,
        env=c.mas_env(),
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mas batch failed ({done.returncode}):\n{done.stderr[-3000:]}")
    user, system = done.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), json.loads(done.stdout)


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = install.install_temporal()
    port = _free_port()
    cmd = [str(binary), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    cmd += ["--headless", "--log-level", "error"]
    log = (folder / "temporal.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    for _ in range(240):
        probe = [
            sys.executable,
            "-c",
            f"import asyncio,temporalio.client as t; asyncio.run(t.Client.connect('{address}'))",
        ]
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return proc, address
        time.sleep(0.5)
    raise SystemExit(f"the Temporal dev server did not start: {folder / 'temporal.log'}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def on_temporal(
    folder: Path, address: str, server: int, items: Path, *, workers: int, slots: int, queue: str
) -> dict:
    procs = []
    for n in range(workers):
        argv = mas("worker", str(CREW), "--address", address, "--task-queue", queue,
                   "-c", str(slots), home=folder / f"{queue}-w{n}")  # fmt: skip
        log = (folder / f"{queue}-w{n}.log").open("w")
        procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=c.mas_env()))
    time.sleep(3)  # the workers connect and poll
    before = [cpu_s(p.pid) for p in procs] + [cpu_s(server)]
    argv = mas("batch", str(CREW), "--inputs", str(items), "--key", "id", "--offline", "-q",
               "--json", "--engine", "temporal", "--address", address, "--task-queue", queue,
               "-c", str(workers * slots), home=folder / f"{queue}-home")  # fmt: skip
    wall, submitter, summary = timed_batch(argv)
    after = [cpu_s(p.pid) for p in procs] + [cpu_s(server)]
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=60)
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return {"wall": wall, "submitter": submitter, "workers": sum(spent[:-1]), "server": spent[-1],
            "ok": summary["counts"]["ok"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mas-bench-temporal-") as tmp:
        folder = Path(tmp)
        items = write_items(folder / "items.jsonl", args.items)
        server, address = start_server(folder)
        try:
            local_argv = mas("batch", str(CREW), "--inputs", str(items), "--key", "id",
                             "--offline", "-q", "--json", "-c", "12", home=folder / "local")  # fmt: skip
            wall, cpu, summary = timed_batch(local_argv)
            rows = [("in-process mas batch", 1, wall, cpu, 0.0, 0.0, summary["counts"]["ok"])]
            for workers, slots in ((1, 12), (3, 4)):
                got = on_temporal(
                    folder, address, server.pid, items, workers=workers, slots=slots,
                    queue=f"q{workers}",
                )  # fmt: skip
                rows.append((f"temporal, {workers} worker(s) x {slots}", workers, got["wall"],
                             got["submitter"], got["workers"], got["server"], got["ok"]))  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    n = args.items
    base_cpu = rows[0][3] / n * 1000
    table = []
    for name, _workers, wall, sub, work, srv, ok in rows:
        total = (sub + work + srv) / n * 1000
        table.append([name, n, ok, f"{wall:.1f}", f"{n / wall * 60:.0f}", f"{wall / n * 1000:.0f}",
                      f"{total:.1f}", f"{total - base_cpu:+.1f}" if work else "-",
                      f"{sub:.1f} / {work:.1f} / {srv:.1f}" if work else f"{sub:.1f}"])  # fmt: skip
    print(f"Scale-out on Temporal: crews/fraud-review --offline, {n} items; concurrency 12 in all; "
          f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(c.table(
        ["mode", "items", "ok", "wall s", "items/min", "wall ms/item", "CPU ms/item (all processes)",
         "CPU ms/item over in-process", "CPU s: submitter / workers / server"],
        table,
    ))  # fmt: skip


if __name__ == "__main__":
    main()
