"""Run one child process the way the executor's plug-ins must: no shell, a given environment, a time limit.

:func:`run_child` starts ``argv`` directly (never through a shell) in a new session, in an empty
temporary working folder, with exactly the environment it is given (nothing inherited), feeds it
``stdin`` and captures stdout and stderr up to a limit. When the time limit passes, the child's whole
process group is killed (SIGKILL) and reaped, so neither it nor anything it started outlives the
call; the same happens to stragglers of a child that exited by itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ChildRun", "run_child"]

#: How long to read what a killed child left in its pipes.
_DRAIN_S = 5.0


@dataclass(frozen=True)
class ChildRun:
    """How a child ended: its exit code (None when killed for time), its captured output, its time."""

    pid: int
    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    elapsed_s: float


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_child(argv: Sequence[str], *, env: Mapping[str, str], stdin: bytes = b"", time_limit_s: float,
              max_output_bytes: int = 256 * 1024) -> ChildRun:
    """Run ``argv`` with exactly ``env``; kill its process group after ``time_limit_s`` (see module doc).

    Raises ``OSError`` when the program cannot be started (not found, not executable).
    """
    if not argv:
        raise ValueError("argv must name a program")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="prismaflow-exec-") as workdir:
        process = subprocess.Popen(  # noqa: S603 - an argument vector, never a shell
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env), cwd=workdir, close_fds=True, start_new_session=True)
        timed_out = False
        try:
            stdout, stderr = process.communicate(stdin, timeout=time_limit_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            try:
                stdout, stderr = process.communicate(timeout=_DRAIN_S)
            except subprocess.TimeoutExpired:  # a process that left the group still holds the pipes
                stdout, stderr = b"", b""
        finally:
            _kill_group(process.pid)  # anything the child started and left behind
            if process.poll() is None:
                process.kill()
                process.wait()
    return ChildRun(pid=process.pid, returncode=None if timed_out else process.returncode,
                    stdout=stdout[:max_output_bytes], stderr=stderr[-max_output_bytes:], timed_out=timed_out,
                    elapsed_s=time.monotonic() - started)
