"""`mas view` through its CLI runner: the file, what it shows, what it never lets through.

The browser half (the page opened in headless Chromium) is tests/realservers/test_view_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import webbrowser
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner
from viewkit import (
    CREWS,
    PAYLOAD,
    example_runs,
    hostile_log,
    hostile_run,
    long_log,
    write_batch,
)

from mas_cli.cli import app
from mas_cli.triage.scan import ScanOptions, scan

runner = CliRunner()


@pytest.fixture(scope="module")
def crews(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    home = tmp_path_factory.mktemp("home")
    return home, example_runs(home)


def view(*args: str) -> tuple[int, str, str]:
    ran = runner.invoke(app, ["view", *args])
    return ran.exit_code, ran.stdout, ran.stderr


class Tags(HTMLParser):
    """Every start tag and attribute of a page, and its scripts' text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, _tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def data_of(page: str) -> dict[str, object]:
    block = re.search(r'<script id="mas-data" type="application/json">(.*?)</script>', page, re.S)
    assert block is not None
    return json.loads(block[1])


@pytest.mark.parametrize("crew", CREWS)
def test_every_example_crew_gets_a_whole_page_beside_its_run(
    crews: tuple[Path, dict[str, Path]], crew: str
) -> None:
    home, runs = crews
    run = runs[crew]
    code, out, err = view(run.name, "--home", str(home), "--no-open")
    assert code == 0, err
    assert out.strip() == str(run / "view.html")
    page = (run / "view.html").read_text(encoding="utf-8")
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    calls = [e for e in events if e["type"] in ("llm_call", "tool_call")]
    tasks = [e for e in events if e["type"] == "task_started"]
    assert len(re.findall(r'<g class="call (llm|tool)[^"]*" data-call="\d+"', page)) == len(calls)
    assert len(re.findall(r'<g class="taskbar ', page)) == len(tasks)
    assert len(data_of(page)["calls"]) == len(calls)  # type: ignore[arg-type]
    for chart in ("agent", "task", "model", "tokens"):
        assert f'data-chart="{chart}"' in page
    findings = scan([str(run / "events.jsonl")], ScanOptions(workers=1)).findings
    assert len(re.findall(r'<tr id="finding-\d+"', page)) == len(findings)
    assert len(re.findall(r'<g class="band" id="band-\d+"', page)) == len(findings)


def test_the_page_fetches_nothing(crews: tuple[Path, dict[str, Path]]) -> None:
    home, runs = crews
    for run in runs.values():
        view(run.name, "--home", str(home), "--no-open")
        page = (run / "view.html").read_text(encoding="utf-8")
        for tag, attrs in parse(page).tags:
            for name in ("src", "href", "xlink:href", "action", "data"):
                value = attrs.get(name) or ""
                assert not re.match(r"\s*(https?:|//|javascript:)", value, re.I), (tag, attrs)
        assert "@import" not in page
        assert "url(" not in page
        assert "default-src 'none'" in page


def test_incident_crews_show_their_loops_and_limit_hits(
    crews: tuple[Path, dict[str, Path]],
) -> None:
    home, runs = crews
    view(runs["runaway-rescoring"].name, "--home", str(home), "--no-open")
    page = (runs["runaway-rescoring"] / "view.html").read_text(encoding="utf-8")
    assert "<b>cycle</b>" in page
    assert "<b>limit_hit</b>" in page
    assert page.count('<g class="mark limit">') == 1
    assert "max_llm_calls 12 reached" in page
    view(runs["delegation-ping-pong"].name, "--home", str(home), "--no-open")
    page = (runs["delegation-ping-pong"] / "view.html").read_text(encoding="utf-8")
    assert "<b>ping_pong</b>" in page
    assert page.count('class="nest"') == 2  # two delegations, each nested under its delegator
    assert "↳ delegate-2" in page


def test_shared_state_shows_versions_writers_and_refused_writes(
    tmp_path: Path, clean_env: Path
) -> None:
    run = hostile_run(tmp_path / "crew", clean_env)
    code, _, err = view("--last", "--no-open")
    assert code == 0, err
    page = (run / "view.html").read_text(encoding="utf-8")
    state = page[page.index('<table class="state">') :]
    state = state[: state.index("</table>")]
    # the task's writes are all or none: the valid one is not written, not refused for itself
    assert state.count('<tr class="ok">') == 0
    assert state.count('<tr class="refused">') == 1
    assert state.count('<tr class="unwritten">') == 1
    assert state.count("<td>0 → —</td>") == 2  # neither was made
    assert "not written: the write of &#x27;level&#x27;" in state
    assert "refused: &#x27;high&#x27; is not valid for &#x27;level&#x27;" in state


def test_a_hostile_run_renders_as_text_everywhere(tmp_path: Path, clean_env: Path) -> None:
    run = hostile_run(tmp_path / "crew", clean_env)
    view("--last", "--no-open", "--include-content")
    page = (run / "view.html").read_text(encoding="utf-8")
    _assert_inert(page)
    calls = data_of(page)["calls"]
    assert isinstance(calls, list)
    args = [json.loads(c["arguments"]) for c in calls if "arguments" in c]
    assert args == [{"text": PAYLOAD}]  # shown, as data
    assert any(PAYLOAD in str(c.get("result", "")) for c in calls)


def test_a_tampered_log_renders_as_text_everywhere(tmp_path: Path) -> None:
    log = hostile_log(tmp_path / "run")
    code, _, err = view(str(log), "--no-open")
    assert code == 0, err
    page = (tmp_path / "run" / "view.html").read_text(encoding="utf-8")
    _assert_inert(page)
    assert page.count("&lt;/script&gt;&lt;img src=x onerror=") >= 5  # names, messages, state


def _assert_inert(page: str) -> None:
    tags = parse(page)
    assert [t for t, _ in tags.tags if t == "img"] == []
    assert all(not any(k.startswith("on") for k in a) for _, a in tags.tags)
    scripts = [a for t, a in tags.tags if t == "script"]
    assert len(scripts) == 2  # the data block and the page's own script, nothing injected
    assert "window.__pwned" not in "".join(tags.scripts[1:])


def test_content_only_with_include_content_and_never_a_secret(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crewkit import write_crew

    canary = "tok-canary-9a8b7c6d5e"
    monkeypatch.setenv("MY_API_TOKEN", canary)
    leak = "import os\n\ndef leak() -> str:\n    return 'token ' + os.environ['MY_API_TOKEN']\n"
    crew = write_crew(
        tmp_path,
        """
name: leaky
tools: {leak: {function: leaky.py:leak}}
agents:
  a: {role: A, model: offline, tools: [leak], script: [{tool_calls: [{name: leak}]}, {text: fine}]}
tasks: [{id: t, agent: a, prompt: hi}]
""",
        leaky__py=leak,
    )
    assert runner.invoke(app, ["run", str(crew), "-q"]).exit_code == 0
    view("--last", "--no-open")
    run = next((clean_env / "runs").iterdir())
    plain = (run / "view.html").read_text(encoding="utf-8")
    assert "token ***" not in plain
    assert '"text":' not in plain
    view("--last", "--no-open", "--include-content")
    full = (run / "view.html").read_text(encoding="utf-8")
    assert "token ***" in full
    assert '"text":"fine"' in full
    assert canary not in full
    assert canary not in plain


def test_a_lone_surrogate_in_the_recording_is_shown_as_u_fffd(
    tmp_path: Path, clean_env: Path
) -> None:
    """An edited recording's escaped lone surrogate failed the page: 'internal error:
    UnicodeEncodeError: surrogates not allowed'."""
    run = hostile_run(tmp_path / "crew", clean_env)
    llm = run / "llm.jsonl"
    llm.write_text(llm.read_text(encoding="utf-8").replace("echo ", "echo \\ud800"))
    code, _, err = view("--last", "--no-open", "--include-content")
    assert code == 0, err
    assert "echo \ufffd" in (run / "view.html").read_text(encoding="utf-8")


def test_out_and_the_browser_only_on_a_terminal(
    tmp_path: Path, crews: tuple[Path, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    home, _ = crews
    target = tmp_path / "sub" / "report.html"
    code, out, _ = view("--last", "--home", str(home), "--out", str(target))
    assert code == 0
    assert out.strip() == str(target)
    assert target.is_file()
    assert opened == []  # CliRunner's stdout is no terminal: never opened


def test_out_through_a_link_or_into_a_pipe_keeps_them(
    tmp_path: Path, crews: tuple[Path, dict[str, Path]]
) -> None:
    """The page was written beside --out and renamed over it: a link became a file, and a pipe
    or a device (--out /dev/stdout, as root) was replaced by a file holding the page."""
    home, _ = crews
    real, link = tmp_path / "real.html", tmp_path / "link.html"
    link.symlink_to(real)
    assert view("--last", "--home", str(home), "--out", str(link))[0] == 0
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    fifo = tmp_path / "page.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = view("--last", "--home", str(home), "--out", str(fifo))
    reader.join(30)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got[0].startswith(b"<!DOCTYPE html>")
    assert got[0].rstrip().endswith(b"</html>")


def test_a_batch_is_a_table_of_items_each_opening_its_run(
    crews: tuple[Path, dict[str, Path]],
) -> None:
    home, runs = crews
    folder = write_batch(home, runs)
    code, out, err = view("b-1", "--home", str(home), "--no-open")
    assert code == 0, err
    assert out.strip() == str(folder / "view.html")
    page = (folder / "view.html").read_text(encoding="utf-8")
    _assert_inert(page)
    rows = re.findall(r'<tr class="st-([^"]+)">(.*?)</tr>', page)
    assert len(rows) == len(runs) + 1
    links = re.findall(r'<a href="([^"]+)">', page)
    assert sorted(links) == sorted(f"../../runs/{r.name}/view.html" for r in runs.values())
    for link in links:
        assert (folder / link).resolve().is_file()
    loops = {r[1].split("</td>")[0][4:]: r[1] for r in rows}
    assert "<td>2</td>" in loops["runaway-rescoring"]
    assert "<td>0</td>" in loops["fraud-review"]
    assert tuple(s for s, _ in rows if s == "dead") == ("dead",)
    results = (folder / "results.jsonl").read_bytes()  # --out on it replaced it with the page
    code, _, err = view(
        "b-1", "--home", str(home), "--no-open", "--out", str(folder / "results.jsonl")
    )
    assert code == 2
    assert "which this command reads: writing it would destroy it" in err
    assert (folder / "results.jsonl").read_bytes() == results


def test_errors_say_what_to_do(tmp_path: Path, clean_env: Path) -> None:
    code, _, err = view("--no-open")
    assert code == 2
    assert "mas view RUN_ID" in err
    code, _, err = view("--last", "--no-open")
    assert code == 2
    assert "no runs under" in err
    log = hostile_log(tmp_path / "run")
    (tmp_path / "blocker").write_text("a file, not a folder")
    code, _, err = view(str(log), "--no-open", "--out", str(tmp_path / "blocker" / "v.html"))
    assert code == 1
    assert "cannot write" in err
    assert "--out" in err
    assert "Traceback" not in err


def test_bad_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    log = hostile_log(tmp_path / "run")
    with log.open("a") as out:
        out.write("not json\n" + '{"type": "llm_call"}\n' + "x" * 100 + "\n")
    code, _, err = view(str(log), "--no-open")
    assert code == 0, err
    assert "3 unreadable lines skipped" in (tmp_path / "run" / "view.html").read_text()


def test_a_long_run_keeps_its_page_bounded_and_its_totals_whole(tmp_path: Path) -> None:
    from mas_cli.view.read import MAX_CALLS

    log = long_log(tmp_path / "run", MAX_CALLS + 700)
    code, _, err = view(str(log), "--no-open")
    assert code == 0, err
    page = (tmp_path / "run" / "view.html").read_text(encoding="utf-8")
    assert f"the first {MAX_CALLS:,} of {MAX_CALLS + 700:,} calls are drawn" in page
    assert len(data_of(page)["calls"]) == MAX_CALLS  # type: ignore[arg-type]
    assert page.count('data-call="') == MAX_CALLS
    assert f"<dd>{MAX_CALLS + 700}</dd>" in page  # the header counts every call
    assert f"${(MAX_CALLS + 700) * 0.001:.6f}" in page  # and the cost chart every dollar
    assert page.count('<g class="mark limit">') == 1  # the stop past the cut is still marked


def test_a_batch_by_its_folder_or_a_prefix_and_a_run_before_a_batch_prefix(
    crews: tuple[Path, dict[str, Path]],
) -> None:
    home, runs = crews
    folder = write_batch(home, {"one": runs["fraud-review"]}, "20261206-batch")
    code, out, err = view(str(folder), "--home", str(home), "--no-open")
    assert code == 0, err
    assert out.strip() == str(folder / "view.html")
    code, out, _ = view("20261206-b", "--home", str(home), "--no-open")
    assert out.strip() == str(folder / "view.html")
    run = runs["fraud-review"]
    code, out, _ = view(run.name[:12], "--home", str(home), "--no-open")  # runs share a prefix
    assert code == 2  # several runs match it: ambiguous, and no batch id starts so
    code, out, _ = view(run.name, "--home", str(home), "--no-open")
    assert out.strip() == str(run / "view.html")


def test_a_line_past_16_mib_is_skipped_without_being_held(tmp_path: Path) -> None:
    import tracemalloc

    from mas_cli.view.read import read_run

    log = hostile_log(tmp_path / "run")
    with log.open("a") as out:
        out.write('{"type": "warning", "message": "' + "x" * (64 << 20) + '"}\n')
        out.write("\n")
    tracemalloc.start()
    run = read_run(log)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert run.bad_lines == 1
    assert run.finish["status"] == "stopped"  # the lines before it were read
    assert peak < 40 << 20, peak  # a 64 MiB line, read in pieces of at most 16 MiB


RETRYING = """
name: retrying
agents:
  a:
    role: A
    model: offline
    script: [{error: {status: 429, retry_after_s: 0.3}}, {text: done}]
tasks: [{id: t, agent: a, prompt: hi}]
"""


def test_a_retry_and_its_wait_are_drawn(tmp_path: Path, clean_env: Path) -> None:
    from crewkit import write_crew

    from mas_cli.view.timeline import PLOT_W

    assert runner.invoke(app, ["run", str(write_crew(tmp_path, RETRYING)), "-q"]).exit_code == 0
    code, out, err = view("--last", "--no-open")
    assert code == 0, err
    page = Path(out.strip()).read_text(encoding="utf-8")
    failed = re.search(r'<g class="call llm st-error retry" data-call="0"', page)
    assert failed is not None  # the 429, outlined
    again = re.search(r'<g class="call llm st-ok retry" data-call="1"[^>]*>(.*?)</g>', page)
    assert again is not None  # the second attempt, outlined too
    wait = re.search(r'<rect [^>]*width="([\d.]+)"[^>]*class="wait"', again[1])
    assert wait is not None
    assert float(wait[1]) > 0.4 * PLOT_W  # ~0.5 s of backoff in a run of ~0.55 s
    assert "retry llm_call #2: scripted failure: 429" in page  # the retry's marker


def test_a_log_mixing_zoned_and_naive_times_renders_naive_as_utc(tmp_path: Path) -> None:
    log = long_log(tmp_path / "run", 3)
    lines = log.read_text().splitlines()
    naive = [lines[0], *(line.replace('000Z"', '000"') for line in lines[1:])]
    log.write_text("\n".join(naive) + "\n")
    code, _, err = view(str(log), "--no-open")
    assert code == 0, err
    assert "internal error" not in err
    page = (tmp_path / "run" / "view.html").read_text(encoding="utf-8")
    assert "<dd>0.01 s</dd>" in page  # the last event, 5 ms in, not 0 s or hours away


def test_a_batch_counts_a_resumed_item_once_and_every_run_it_cost(
    crews: tuple[Path, dict[str, Path]],
) -> None:
    home, runs = crews
    first, again = runs["runaway-rescoring"], runs["fraud-review"]
    folder = write_batch(home, {"item": first}, "b-resumed")
    with (folder / "results.jsonl").open("a") as out:  # the item resumed: a second run
        out.write(json.dumps({"key": "item", "run_id": again.name, "cost_usd": 0.002}) + "\n")
    code, _, err = view(str(folder), "--home", str(home), "--no-open")
    assert code == 0, err
    page = (folder / "view.html").read_text(encoding="utf-8")
    assert "2 items · 2 runs · $0.003000" in page  # the resumed item and the dead one


def test_a_log_with_nan_and_infinity_still_makes_a_page(tmp_path: Path) -> None:
    """Python's json writes NaN and Infinity, and the log reader takes them: the page's data
    block refused them ('internal error: Out of range float values are not JSON compliant')."""
    log = hostile_log(tmp_path / "run")
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line["type"] in ("llm_call", "tool_call"):
            line |= {"latency_s": float("nan"), "wait_s": float("nan"), "cost_usd": float("inf")}
    log.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code, _, err = view(str(log), "--no-open")
    assert code == 0, err
    page = (log.parent / "view.html").read_text(encoding="utf-8")
    calls = data_of(page)["calls"]
    assert isinstance(calls, list)
    assert calls
    assert all(c.get("latency_s", None) is None for c in calls)
    assert "NaN" not in page
    assert "waiting nan s" not in page  # a wait that is not a number is no wait


def test_a_run_without_run_finished_shows_the_tokens_and_cost_of_its_calls(tmp_path: Path) -> None:
    log = long_log(tmp_path / "run", 3)  # killed, or still running: no run_finished
    code, _, err = view(str(log), "--no-open")
    assert code == 0, err
    page = (tmp_path / "run" / "view.html").read_text(encoding="utf-8")
    assert "<dd>33 in · 0 out</dd>" in page  # 10 + 11 + 12, not 0
    assert "<dt>cost</dt><dd>$0.003000</dd>" in page  # not "unpriced"
    # no live process holds it: "killed", as `mas runs` and `mas show` say (it said "unfinished")
    assert "<dt>status</dt><dd>killed</dd>" in page
