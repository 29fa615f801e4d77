"""Scale-out on Temporal, on loopback: a real development server, three `mas worker` processes
and a fake provider that refuses every ninth request (429) and answers after a delay.

A batch of a few hundred items runs while one worker is SIGKILLed mid-batch, with an item
half-done, and another started: every item ends ok exactly once, every side effect happens once, no answered model
call is paid again beyond the calls in flight on the killed worker, the provider never sees
more than the crew's rpm in any minute, the batch's records are whole and read as one batch,
and the workers' key (a canary) is nowhere in the server's history. A second batch under a
dollar budget stops before the provider has billed past it, with three workers calling, and
lists the items it did not run. A third is submitted with --detach, seen with `mas batch
status` and followed to its end with `mas resume`. A fourth, its history threshold lowered,
continues as new several times mid-batch with a worker SIGKILLed after the first continue: every
item once, side effects once, the spend and the rate carried from run to run. Then what goes
wrong around a batch: a namespace with a typo, Ctrl-C while the items are fed, the server
stopped under a batch, a worker whose crew file differs, a workflow terminated on the
service, and --detach before any worker runs: each said plainly, nothing lost or listed twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import signal
import subprocess
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from temporalkit import (
    PER_CALL_USD,
    Fleet,
    Provider,
    Temporal,
    crew,
    dev_server,
    items,
    mas,
    outbox,
    worker_env,
)

ITEMS = 240  # two model calls each: a tool call, then the answer
RPM = 300  # binds: the batch needs more than a minute's worth of calls
WORKER_SLOTS = 4  # items a worker runs at once (mas worker -c 4)


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Temporal]:
    with dev_server(tmp_path_factory.mktemp("temporal")) as server:
        yield server


@pytest.fixture
def provider() -> Iterator[Provider]:
    fake = Provider()
    with fake.server:
        yield fake


def start_batch(
    temporal: Temporal, crew_path: Path, queue: str, home: Path, count: int, *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:  # fmt: skip
    path = items(home.parent / f"{queue}-items.jsonl", count)
    cmd = mas("batch", str(crew_path), "--inputs", str(path), home=home)
    cmd += ["--engine", "temporal", "--address", temporal.address, "--task-queue", queue]
    cmd += ["-c", "12", "--json", "-q", *extra]
    environ = {k: v for k, v in worker_env("").items() if k != "MAS_FLEET_KEY"}
    environ.update(env or {})
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
    )


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def history_texts(address: str, workflow_id: str, first: str) -> list[str]:
    """Every text in the workflow's stored history, every run of it: the history as JSON, each
    payload decoded, and each packed run log inside a payload unpacked."""
    from temporalio.client import Client

    async def fetch(run_id: str) -> str:
        client = await Client.connect(address)
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        return history.to_json()

    texts = []
    for run_id in workflow_runs(address, workflow_id, first):
        raw = asyncio.run(fetch(run_id))
        texts += [raw, *_texts(json.loads(raw))]
    return texts


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for inner in value.values():
            yield from _texts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _texts(inner)
    elif isinstance(value, str) and len(value) >= 8:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return
        try:
            yield from _texts(json.loads(raw))
            yield raw.decode("utf-8", "replace")
            return
        except ValueError:
            pass
        try:
            yield zlib.decompress(raw).decode("utf-8", "replace")
        except zlib.error:
            return


def mid_item(worker_home: Path) -> bool:
    """Whether a worker has a run in flight past its side effect: its first model call's
    recording is then saved in the workflow (the tool runs only once it is)."""
    for log in (worker_home / "runs").glob("*/events.jsonl"):
        text = log.read_text()
        if '"type":"tool_call"' in text.replace(" ", "") and "run_finished" not in text:
            return True
    return False


def wait_for(check: Any, what: str, timeout_s: float, fleet: Fleet) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s:g} s\n{fleet.logs()}")
        time.sleep(0.02)


def test_a_killed_worker_loses_nothing_and_the_rate_holds(
    temporal: Temporal, provider: Provider, tmp_path: Path
) -> None:
    crew_path = crew(tmp_path / "crew", provider.url, RPM)
    canary = f"sk-canary-{secrets.token_hex(12)}"
    fleet = Fleet(crew_path, temporal, tmp_path, "q-kill", canary)
    home = tmp_path / "home"
    try:
        for _ in range(3):
            fleet.start()
        batch = start_batch(temporal, crew_path, "q-kill", home, ITEMS)
        wait_for(lambda: len(provider.paid()) >= ITEMS // 2, "a quarter of the calls", 300, fleet)
        # Killed with an item half-done: a model call answered and saved, its side effect made.
        wait_for(lambda: mid_item(tmp_path / "worker-0"), "an item half-done", 300, fleet)
        fleet.procs[0].send_signal(signal.SIGKILL)
        fleet.start()
        out, err = batch.communicate(timeout=600)
    finally:
        fleet.stop()
    assert batch.returncode == 0, f"{err}\n{fleet.logs()}"
    summary = json.loads(out)
    [folder] = (home / "batches").iterdir()
    assert summary["batch_id"] == folder.name

    # Every item done once, ok.
    results = jsonl(folder / "results.jsonl")
    assert sorted(r["key"] for r in results) == sorted({r["key"] for r in results})
    assert len(results) == ITEMS
    assert Counter(r["status"] for r in results) == {"ok": ITEMS}, [
        r for r in results if r["status"] != "ok"
    ][:3]
    assert jsonl(folder / "dead.jsonl") == []

    # Every side effect once.
    sent = Counter(entry["to"] for entry in outbox(crew_path))
    assert sent == {f"item-{i}": 1 for i in range(ITEMS)}

    # No answered call paid twice, beyond the calls in flight on the worker killed.
    paid = Counter(provider.paid())
    again = {call: n for call, n in paid.items() if n > 1}
    assert sum(n - 1 for n in again.values()) <= WORKER_SLOTS, again
    assert len(paid) == 2 * ITEMS

    # The rate as the provider saw it; the 429s were retried.
    assert provider.busiest_minute() <= RPM, provider.busiest_minute()
    assert any(status == 429 for *_, status in provider.log)

    # The items the killed worker had in flight resumed elsewhere, from their recordings.
    runs = {p.name: jsonl(p / "events.jsonl") for p in (home / "runs").iterdir()}
    resumed = [log for log in runs.values() if log[0].get("resumed_from")]
    assert resumed, "no item was resumed: the kill landed on no item in flight"
    assert all(log[0]["resumed_from"] in runs for log in resumed)
    replayed = [e for log in resumed for e in log if e["type"] == "llm_call" and e.get("replayed")]
    assert replayed
    assert all(e["cost_usd"] == 0 for e in replayed)
    assert {r["run_id"] for r in results} <= set(runs)

    # The batch reads as one: cost-report and triage over it.
    report = subprocess.run(
        mas("cost-report", "--batch", folder.name, "--format", "json", home=home),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    loops = subprocess.run(
        mas("triage", "loops", "--batch", folder.name, home=home),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert loops.returncode in (0, 1), loops.stderr
    assert "Traceback" not in loops.stderr + report.stderr

    # The canary key reached the provider, and nowhere in Temporal's history or the home.
    assert provider.keys == {canary}
    first = json.loads((folder / "batch.json").read_text())["first_run_id"]
    texts = history_texts(temporal.address, folder.name, first)
    assert any("item-7" in t for t in texts)
    assert any('"llm_call"' in t for t in texts)
    assert not [t for t in texts if canary in t]
    for path in home.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path


def test_three_workers_stop_within_the_batch_budget(
    temporal: Temporal, provider: Provider, tmp_path: Path
) -> None:
    crew_path = crew(tmp_path / "crew", provider.url, 10_000)
    fleet = Fleet(crew_path, temporal, tmp_path, "q-budget", "sk-budget")
    home = tmp_path / "home"
    budget = 0.01  # about 70 answered calls once 12 calls in flight hold their worst case
    try:
        for _ in range(3):
            fleet.start()
        batch = start_batch(
            temporal, crew_path, "q-budget", home, 120, "--max-cost-usd", str(budget)
        )
        out, err = batch.communicate(timeout=600)
    finally:
        fleet.stop()
    assert batch.returncode == 3, f"{out}\n{err}\n{fleet.logs()}"
    billed = len(provider.paid()) * PER_CALL_USD
    assert 0 < billed <= budget
    [folder] = (home / "batches").iterdir()
    info = json.loads((folder / "batch.json").read_text())
    assert info["status"] == "stopped"
    assert "max_cost_usd" in info["reason"]
    assert len(provider.log) <= info["llm_calls"]  # every request the provider saw was leased
    results = jsonl(folder / "results.jsonl")
    assert len(results) < 120
    not_run = {d["key"] for d in jsonl(folder / "dead.jsonl") if d["reason"].startswith("not run:")}
    ran = {r["key"] for r in results}
    assert not ran & not_run
    assert len(ran | not_run) == 120  # every item either ran or is listed to run again


def test_a_detached_batch_is_seen_and_followed_again(
    temporal: Temporal, provider: Provider, tmp_path: Path
) -> None:
    crew_path = crew(tmp_path / "crew", provider.url, 10_000)
    fleet = Fleet(crew_path, temporal, tmp_path, "q-detach", "sk-detach")
    home = tmp_path / "home"
    try:
        for _ in range(2):
            fleet.start()
        submitted = start_batch(temporal, crew_path, "q-detach", home, 40, "--detach")
        _out, err = submitted.communicate(timeout=300)
        assert submitted.returncode == 0, err
        assert "follow it with: mas resume b-" in err
        [folder] = (home / "batches").iterdir()
        status = subprocess.run(
            mas("batch", "status", folder.name, "--json", home=home),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["batch_id"] == folder.name
        attached = subprocess.run(
            mas("resume", folder.name, "-q", "--json", home=home),
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
    finally:
        fleet.stop()
    assert attached.returncode == 0, attached.stderr
    assert json.loads(attached.stdout)["status"] == "finished"
    results = jsonl(folder / "results.jsonl")
    assert sorted(r["key"] for r in results) == sorted({r["key"] for r in results})
    assert len(results) == 40
    assert json.loads((folder / "batch.json").read_text())["status"] == "finished"
    assert all((home / "runs" / r["run_id"] / "events.jsonl").is_file() for r in results)


CONTINUE_ITEMS = 100
CONTINUE_RPM = 150  # binds: the batch's 200 calls take more than a minute


def workflow_runs(address: str, workflow_id: str, first: str) -> list[str]:
    """The runs of a batch's workflow, first to last, as their continue-as-new events chain."""
    from temporalio.client import Client

    async def chain() -> list[str]:
        client = await Client.connect(address)
        runs = [first]
        while True:
            history = await client.get_workflow_handle(workflow_id, run_id=runs[-1]).fetch_history()
            last = history.events[-1]
            if not last.HasField("workflow_execution_continued_as_new_event_attributes"):
                return runs
            runs.append(
                last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            )

    return asyncio.run(chain())


def runs_so_far(address: str, workflow_id: str) -> int:
    from temporalio.client import Client

    from mas_cli.fleet.messages import Status

    async def ask() -> int:
        client = await Client.connect(address)
        handle = client.get_workflow_handle(workflow_id)
        state: Status = await handle.query("state", result_type=Status)
        return state.runs

    try:
        return asyncio.run(ask())
    except Exception:  # not started yet, or between two runs
        return 0


def test_a_batch_continues_as_new_and_loses_nothing_across_runs(
    temporal: Temporal, provider: Provider, tmp_path: Path
) -> None:
    crew_path = crew(tmp_path / "crew", provider.url, CONTINUE_RPM)
    fleet = Fleet(crew_path, temporal, tmp_path, "q-continue", "sk-continue")
    home = tmp_path / "home"
    budget = CONTINUE_ITEMS * 2 * PER_CALL_USD * 3  # room for the retries; never reached
    try:
        for _ in range(3):
            fleet.start()
        batch = start_batch(
            temporal, crew_path, "q-continue", home, CONTINUE_ITEMS, "--max-cost-usd", str(budget),
            env={"MAS_TEMPORAL_CONTINUE_AT": "300"},  # every 10 to 15 items
        )  # fmt: skip
        wait_for(lambda: any(home.glob("batches/*/batch.json")), "the batch's folder", 120, fleet)
        [folder] = (home / "batches").iterdir()
        deadline = time.monotonic() + 300
        while runs_so_far(temporal.address, folder.name) < 2:
            if time.monotonic() > deadline or batch.poll() is not None:
                pytest.fail(f"the workflow never continued as new\n{fleet.logs()}")
            time.sleep(0.5)
        wait_for(lambda: mid_item(tmp_path / "worker-0"), "an item half-done", 300, fleet)
        fleet.procs[0].send_signal(signal.SIGKILL)
        fleet.start()
        out, err = batch.communicate(timeout=600)
    finally:
        fleet.stop()
    assert batch.returncode == 0, f"{out}\n{err}\n{fleet.logs()}"
    info = json.loads((folder / "batch.json").read_text())
    runs = workflow_runs(temporal.address, folder.name, info["first_run_id"])
    assert len(runs) >= 4, runs  # continued as new several times, mid-batch

    # Every item done once, ok, its records whole, whichever run it ended in.
    results = jsonl(folder / "results.jsonl")
    assert sorted(r["key"] for r in results) == sorted({r["key"] for r in results})
    assert Counter(r["status"] for r in results) == {"ok": CONTINUE_ITEMS}
    assert jsonl(folder / "dead.jsonl") == []
    assert all((home / "runs" / r["run_id"] / "events.jsonl").is_file() for r in results)
    assert info["counts"]["ok"] == CONTINUE_ITEMS
    logs = [jsonl(p / "events.jsonl") for p in (home / "runs").iterdir()]
    assert [log for log in logs if log[0].get("resumed_from")], "the kill landed on no item"

    # Every side effect once; no answered call paid again beyond the killed worker's in flight.
    sent = Counter(entry["to"] for entry in outbox(crew_path))
    assert sent == {f"item-{i}": 1 for i in range(CONTINUE_ITEMS)}
    paid = Counter(provider.paid())
    assert sum(n - 1 for n in paid.values()) <= WORKER_SLOTS, paid
    assert len(paid) == 2 * CONTINUE_ITEMS

    # The governor carried from run to run: the rate as the provider saw it, and every call
    # the provider saw is in the batch's spend (a ledger started afresh would hold a run's).
    assert provider.busiest_minute() <= CONTINUE_RPM, provider.busiest_minute()
    assert len(provider.log) <= info["llm_calls"]
    assert 0 < info["cost_usd"] <= budget
    assert info["cost_usd"] >= len(provider.paid()) * PER_CALL_USD * 0.999


def test_a_namespace_with_a_typo_is_named_with_the_ones_there_are(
    temporal: Temporal, tmp_path: Path
) -> None:
    crew_path = crew(tmp_path / "crew", "http://127.0.0.1:9", 100)
    path = items(tmp_path / "items.jsonl", 2)
    where = ["--address", temporal.address, "--namespace", "defualt"]
    home = tmp_path / "home"
    for args in (
        ["worker", str(crew_path), *where],
        ["batch", str(crew_path), "--inputs", str(path), "--engine", "temporal", *where],
    ):
        done = subprocess.run(
            mas(*args, home=home), capture_output=True, text=True, check=False, timeout=120,
            env=worker_env("sk-ns"),
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "--namespace 'defualt': Temporal at" in done.stderr
        assert "did you mean 'default'?" in done.stderr
        assert "bug in mas" not in done.stderr
        assert "Traceback" not in done.stderr
    assert not list(home.glob("batches/*"))


def test_ctrl_c_while_the_items_are_fed_detaches_without_a_traceback(
    temporal: Temporal, tmp_path: Path
) -> None:
    # No worker polls this queue: the workflow never takes its first page, so the submitter
    # is inside the feed update when Ctrl-C comes (as it is most of a large batch's time).
    crew_path = crew(tmp_path / "crew", "http://127.0.0.1:9", 100)
    home = tmp_path / "home"
    batch = start_batch(temporal, crew_path, "q-ctrl-c", home, 5)
    deadline = time.monotonic() + 120
    while not list(home.glob("batches/*/batch.json")):
        assert batch.poll() is None, batch.communicate()
        assert time.monotonic() < deadline, "the batch was never submitted"
        time.sleep(0.1)
    time.sleep(2)  # connected, the workflow started, the first page sent
    batch.send_signal(signal.SIGINT)
    _out, err = batch.communicate(timeout=60)
    [folder] = (home / "batches").iterdir()
    assert batch.returncode == 130, err
    assert "Traceback" not in err
    assert f"batch {folder.name} runs on" in err
    assert f"follow it with: mas resume {folder.name}" in err
    status = subprocess.run(
        mas("batch", "status", folder.name, "--json", home=home),
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["status"] == "running"  # the workflow was left running
    assert "no worker answered for it" in shown["reason"]
    assert f"mas worker {crew_path} --task-queue q-ctrl-c" in shown["reason"]
    attached = subprocess.run(
        mas("resume", folder.name, home=home),
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert attached.returncode == 1, attached.stderr
    assert "no worker answered for it" in attached.stderr
    assert "bug in mas" not in attached.stderr


def test_a_server_gone_mid_batch_is_said_with_how_to_follow_again(tmp_path: Path) -> None:
    # A server of its own, stopped under a batch in flight (the others share the module's).
    fraud = Path(__file__).resolve().parents[2] / "crews" / "fraud-review" / "crew.yaml"
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"transaction": f"tx-{i}"}) + "\n" for i in range(200)))
    home = tmp_path / "home"
    env = worker_env("")
    with ExitStack() as stack:
        server = stack.enter_context(dev_server(tmp_path))
        where = ["--address", server.address, "--task-queue", "q-gone"]
        with (tmp_path / "worker.log").open("w") as log:
            worker = subprocess.Popen(
                mas("worker", str(fraud), *where, "-c", "1", home=tmp_path / "worker"),
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        stack.callback(worker.wait, 30)  # it retries the server for good: killed
        stack.callback(worker.kill)
        args = ["batch", str(fraud), "--inputs", str(path), "--offline", "--engine", "temporal"]
        batch = subprocess.Popen(
            mas(*args, *where, "-q", home=home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while len(list(home.glob("runs/*"))) < 2:
            assert batch.poll() is None, batch.communicate()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.2)
        stack.close()  # the worker killed, then the server stopped, the batch in flight
        _out, err = batch.communicate(timeout=300)
    [folder] = (home / "batches").iterdir()
    assert batch.returncode == 1, err
    assert f"lost Temporal while following batch {folder.name}" in err
    assert f"follow it again with mas resume {folder.name}" in err
    assert "bug in mas" not in err
    assert "Traceback" not in err


def test_a_worker_whose_crew_file_differs_refuses_the_items(
    temporal: Temporal, provider: Provider, tmp_path: Path
) -> None:
    crew_path = crew(tmp_path / "crew", provider.url, 10_000)
    changed = crew(tmp_path / "changed", provider.url, 10_000)  # the same name, edited since
    doc = json.loads(changed.read_text())
    doc["tasks"][0]["prompt"] = "Send the notice for {item}, in capitals."
    changed.write_text(json.dumps(doc))
    fleet = Fleet(changed, temporal, tmp_path, "q-crew", "sk-crew")
    home = tmp_path / "home"
    try:
        fleet.start()
        batch = start_batch(temporal, crew_path, "q-crew", home, 2)
        out, err = batch.communicate(timeout=300)
    finally:
        fleet.stop()
    assert batch.returncode == 1, f"{out}\n{err}\n{fleet.logs()}"
    assert provider.log == []  # no item ran under a crew it was not submitted with
    [folder] = (home / "batches").iterdir()
    results = jsonl(folder / "results.jsonl")
    assert [r["status"] for r in results] == ["failed", "failed"]
    assert all("differs from the crew batch" in r["error"] for r in results), results
    assert str(changed) in results[0]["error"]
    assert len(jsonl(folder / "dead.jsonl")) == 2


def test_a_workflow_terminated_on_the_service_ends_the_batch_stopped(
    temporal: Temporal, tmp_path: Path
) -> None:
    from temporalio.client import Client

    crew_path = crew(tmp_path / "crew", "http://127.0.0.1:9", 100)
    home = tmp_path / "home"
    batch = start_batch(temporal, crew_path, "q-terminate", home, 5)  # no worker: none runs
    deadline = time.monotonic() + 120
    while not list(home.glob("batches/*/batch.json")):
        assert batch.poll() is None, batch.communicate()
        assert time.monotonic() < deadline, "the batch was never submitted"
        time.sleep(0.1)
    [folder] = (home / "batches").iterdir()

    async def terminate() -> None:  # as `temporal workflow terminate` or the web UI does
        client = await Client.connect(temporal.address)
        await client.get_workflow_handle(folder.name).terminate(reason="operator")

    asyncio.run(terminate())
    out, err = batch.communicate(timeout=120)
    assert batch.returncode == 3, err
    assert "bug in mas" not in err
    assert json.loads(out)["status"] == "stopped"
    for _ in range(2):  # followed again: the same end, nothing listed twice
        status = subprocess.run(
            mas("batch", "status", folder.name, "--json", home=home),
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert shown["status"] == "stopped"
        assert "its workflow on Temporal was terminated (operator)" in shown["reason"]
    letters = jsonl(folder / "dead.jsonl")
    assert sorted(d["inputs"]["item"] for d in letters) == [f"item-{i}" for i in range(5)]
    assert all(d["reason"].startswith("not run: batch stopped") for d in letters)


def test_a_detached_batch_with_no_worker_yet_returns_and_resume_feeds_it_later(
    temporal: Temporal, provider: Provider, tmp_path: Path
) -> None:
    crew_path = crew(tmp_path / "crew", provider.url, 10_000)
    fleet = Fleet(crew_path, temporal, tmp_path, "q-later", "sk-later")
    home = tmp_path / "home"
    try:
        submitted = start_batch(temporal, crew_path, "q-later", home, 5, "--detach")
        try:
            _out, err = submitted.communicate(timeout=120)  # on main: waits for a worker for good
        finally:
            submitted.kill()
        assert submitted.returncode == 0, err
        [folder] = (home / "batches").iterdir()
        assert "no worker took the batch's first items within 20 s" in err
        assert f"mas worker {crew_path} --task-queue q-later" in err
        assert f"mas resume {folder.name}" in err
        fleet.start()
        attached = subprocess.run(
            mas("resume", folder.name, "-q", "--json", home=home),
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
    finally:
        fleet.stop()
    assert attached.returncode == 0, f"{attached.stderr}\n{fleet.logs()}"
    results = jsonl(folder / "results.jsonl")
    assert sorted(r["key"] for r in results) == sorted({r["key"] for r in results})
    assert Counter(r["status"] for r in results) == {"ok": 5}
