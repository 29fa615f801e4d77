"""A batch that `mas batch` really ran, read by the readers built beside it: `mas view` draws
its items and `mas export` gives one trace per item, and `cost-report --batch` adds up to what
the batch says it spent."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def mas(*args: str) -> tuple[int, str, str]:
    ran = runner.invoke(app, list(args))
    return ran.exit_code, ran.stdout, ran.stderr


def a_batch(tmp_path: Path, home: Path) -> Path:
    items = tmp_path / "items.jsonl"
    rows = [{"id": f"tx-{n}", "transaction": f"tx-{n}: ${n * 97} to payee {n}"} for n in range(3)]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    crew = ROOT / "crews" / "fraud-review" / "crew.yaml"
    code, _, err = mas("batch", str(crew), "--inputs", str(items), "--key", "id", "--offline", "-q")
    assert code == 0, err
    (folder,) = (home / "batches").iterdir()
    return folder


def test_a_real_batch_is_viewed_exported_and_costed(tmp_path: Path, clean_env: Path) -> None:
    folder = a_batch(tmp_path, clean_env)
    results = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in results] == ["ok"] * 3

    code, out, err = mas("view", folder.name, "--no-open")
    assert code == 0, err
    page = Path(out.strip()).read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">', page)
    assert sorted(links) == sorted(f"../../runs/{r['run_id']}/view.html" for r in results)
    assert all((folder / link).resolve().is_file() for link in links)

    exported = tmp_path / "batch.jsonl"
    code, _, err = mas("export", folder.name, "--to", str(exported))
    assert code == 0, err
    spans = [
        span
        for line in exported.read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    roots = [s for s in spans if not s.get("parentSpanId")]
    assert sorted(s["name"] for s in roots) == ["invoke_workflow fraud-review"] * 3
    assert len({s["traceId"] for s in spans}) == 3

    code, out, err = mas("cost-report", "--batch", folder.name, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert sorted(r["run_id"] for r in report["runs"]) == sorted(r["run_id"] for r in results)
    assert abs(report["total"]["cost_usd"] - sum(r["cost_usd"] for r in results)) < 1e-9
