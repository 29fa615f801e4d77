"""The README's test command runs the real-server tier in one worker (tests/conftest.py's
scheduler), so each of its servers starts once; the other tests are shared out one by one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # not conftest's: tests/realservers has its own
TIER = "tests/realservers/test_tier.py"
OTHER = "tests/test_cli_options.py"


def test_the_tier_runs_in_one_worker() -> None:
    argv = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p"]
    argv += ["no:cacheprovider", "-p", "no:randomly", TIER, OTHER]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    ran = [line.split(" PASSED ") for line in done.stdout.splitlines() if " PASSED " in line]
    tier = {worker.split()[0] for worker, test in ran if test.startswith(TIER)}
    other = [test for _, test in ran if test.startswith(OTHER)]
    assert len(tier) == 1, done.stdout[-3000:]  # one worker: [gw0] or [gw1]
    assert len(other) == 5, done.stdout[-3000:]
