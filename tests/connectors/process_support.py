"""Which processes a test left behind: this process' descendants, compared before and after."""

from __future__ import annotations

import psutil


def descendants() -> set[int]:
    """This process' descendants by pid (the suite's own broker among them)."""
    return {child.pid for child in psutil.Process().children(recursive=True)}


def left_behind(before: set[int]) -> set[int]:
    """Descendants started since ``before`` that are still alive (zombies count as gone)."""
    alive = set()
    for pid in descendants() - before:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive
