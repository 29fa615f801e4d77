"""Function tools run on reused daemon threads: a thread per call's guarantees, without its cost."""

from __future__ import annotations

import os
import threading
import time

from mas_cli.tools import threads
from mas_cli.tools.threads import Workers


def _wait(done: threading.Event) -> None:
    assert done.wait(10), "the job never ran"


def test_sequential_calls_share_one_thread() -> None:
    workers, seen, done = Workers(), list[threading.Thread](), threading.Event()
    for _ in range(20):
        done.clear()
        workers.run(lambda: (seen.append(threading.current_thread()), done.set()), "mas-tool-x")
        _wait(done)
        time.sleep(0.001)  # the thread puts itself back after the job
    assert len({id(t) for t in seen}) <= 2  # held in `seen`, so ids are never reused


def test_a_call_never_waits_for_a_busy_thread() -> None:
    """Five calls that only finish together: serialised on fewer threads, they never would."""
    workers, barrier, done = Workers(), threading.Barrier(5, timeout=10), threading.Semaphore(0)

    def job() -> None:
        barrier.wait()
        done.release()

    for _ in range(5):
        workers.run(job, "mas-tool-meet")
    for _ in range(5):
        assert done.acquire(timeout=10), "a call waited for another to end"


def test_a_hung_call_keeps_its_thread_and_the_next_call_gets_another() -> None:
    workers, hang, ran = Workers(), threading.Event(), threading.Event()
    workers.run(hang.wait, "mas-tool-hang")
    workers.run(ran.set, "mas-tool-next")
    _wait(ran)
    names = {t.name for t in threading.enumerate() if t.daemon}
    assert "mas-tool-hang" in names  # abandoned, not joined, still a daemon
    hang.set()


def test_a_job_that_raises_leaves_its_thread_serving() -> None:
    workers, done = Workers(keep=1), threading.Event()

    def boom() -> None:
        raise SystemExit(3)

    workers.run(boom, "mas-tool-boom")
    time.sleep(0.05)
    workers.run(done.set, "mas-tool-after")
    _wait(done)


def test_idle_threads_beyond_keep_end() -> None:
    workers, barrier = Workers(keep=1), threading.Barrier(4, timeout=10)
    before = threading.active_count()
    for _ in range(3):
        workers.run(barrier.wait, "mas-tool-many")
    barrier.wait()
    deadline = time.monotonic() + 10
    while threading.active_count() > before + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before + 1  # one idle thread kept, two ended


def test_the_thread_is_named_for_the_tool_of_each_call() -> None:
    workers, names, done = Workers(), list[str](), threading.Event()
    for name in ("mas-tool-a", "mas-tool-b"):
        done.clear()
        workers.run(lambda: (names.append(threading.current_thread().name), done.set()), name)
        _wait(done)
        time.sleep(0.01)
    assert names == ["mas-tool-a", "mas-tool-b"]


def test_a_forked_child_starts_its_own_threads() -> None:
    done = threading.Event()
    threads.WORKERS.run(done.set, "mas-tool-parent")  # leaves an idle thread in the parent
    _wait(done)
    time.sleep(0.01)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's idle thread does not exist here
        ok = threading.Event()
        threads.WORKERS.run(ok.set, "mas-tool-child")
        os.write(write, b"1" if ok.wait(5) else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
