"""What the local launchers (Kafka broker, schema registry) and the bench share: the Maven they build
with, is a process alive and ours, signalling its group, is a port taken, what did it last log."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
from pathlib import Path

from processors.errors import ConfigurationError

__all__ = ["cmdline", "find_maven", "log_tail", "pid_alive", "port_open", "signal_group"]


def find_maven(needed_for: str, alternative: str = "") -> str:
    """The ``mvn`` on PATH; ConfigurationError naming what it is ``needed_for`` and how to install
    it (and ``alternative``, a way around it) when there is none."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigurationError(
            f"Maven ('mvn') is needed {needed_for} from Maven Central but is not on PATH. Install "
            f"Maven 3.8+ (Debian/Ubuntu: `apt-get install maven`){alternative}.")
    return mvn


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie (a zombie child of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        # The state follows the parenthesised command name, which may itself contain spaces.
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): trust kill(0)


def log_tail(path: Path, lines: int = 30, *, missing: str = "(no log)") -> str:
    """The last ``lines`` lines of a process's log file, for an error message; ``missing`` when
    it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return missing
    return "\n".join(text.splitlines()[-lines:])


def cmdline(pid: int) -> str | None:
    """The command line of ``pid``, or None where /proc is unavailable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def signal_group(pid: int, sig: signal.Signals) -> bool:
    """Signal the process group led by ``pid`` (started in its own session); False when it is gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return True
