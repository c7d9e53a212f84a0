"""run_child: an argument vector with exactly the given environment, killed with everything it started."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from connectors.sandbox import run_child

# Starts a grandchild that writes its pid and sleeps, then sleeps itself.
SPAWNS_AND_HANGS = ("import subprocess, sys, time; "
                    "subprocess.Popen([sys.executable, '-c', "
                    "'import os, sys, time; open(sys.argv[1], \"w\").write(str(os.getpid())); time.sleep(60)', "
                    "sys.argv[1]]); time.sleep(60)")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_child_past_its_time_limit_is_killed_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    run = run_child([sys.executable, "-c", SPAWNS_AND_HANGS, str(pid_file)], env={}, time_limit_s=2.0)
    assert run.timed_out and run.returncode is None and 1.5 < run.elapsed_s < 15
    assert _gone(run.pid)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild)


def test_the_child_gets_exactly_the_environment_and_stdin_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_CANARY_TOKEN", "do-not-leak")
    run = run_child([sys.executable, "-I", "-c", "import os, sys; print(sorted(os.environ), sys.stdin.read())"],
                    env={"ONLY": "this"}, stdin=b"job", time_limit_s=10)
    assert not run.timed_out and run.returncode == 0
    assert run.stdout.decode().split("] ")[1].strip() == "job"
    assert "SECRET_CANARY_TOKEN" not in run.stdout.decode() and "'ONLY'" in run.stdout.decode()


def test_output_past_the_limit_is_cut_and_an_empty_argv_refused() -> None:
    run = run_child([sys.executable, "-c", "print('x' * 100000)"], env={}, time_limit_s=10, max_output_bytes=1024)
    assert len(run.stdout) == 1024
    with pytest.raises(ValueError):
        run_child([], env={}, time_limit_s=1)
