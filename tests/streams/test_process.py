"""A long-running process ends on SIGTERM within its grace period, even with its loop stuck in a call."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent("""
    import sys, threading, time
    from streams.process import run_until_signalled

    stuck = sys.argv[1] == "stuck"
    stopped = threading.Event()

    def main():
        print("ready", flush=True)
        if stuck:
            threading.Event().wait()  # a call that never returns and ignores stop()
        stopped.wait()
        return 0

    sys.exit(run_until_signalled(main, stopped.set, name="child", grace_s=2))
""")


def _start(mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, mode], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _finish(proc: subprocess.Popen[str]) -> int:
    try:
        return proc.wait(10)
    finally:
        assert proc.stdout is not None
        proc.stdout.close()


def _sigterm(mode: str) -> tuple[int, float]:
    """Start a child in ``mode``, SIGTERM it once ready; its exit status and seconds to exit."""
    proc = _start(mode)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    status = _finish(proc)
    return status, time.monotonic() - started


def test_sigterm_stops_a_loop_that_listens_at_once_with_status_0() -> None:
    status, elapsed = _sigterm("listening")
    assert status == 0
    assert elapsed < 2


def test_sigterm_ends_a_process_whose_loop_is_stuck_once_the_grace_period_is_over() -> None:
    status, elapsed = _sigterm("stuck")
    assert status == 1
    assert 1.5 < elapsed < 6
