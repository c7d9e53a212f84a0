"""What the local launchers (Kafka broker, schema registry) and the bench share: is a process alive, is a
port taken, what did a process last log."""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["log_tail", "pid_alive", "port_open"]


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
