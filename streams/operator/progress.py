"""Progress of long operator work (replay, redrive, the broker's first start, the bench): a rich
progress bar when stderr is a terminal, plain lines otherwise (CI logs, Kubernetes Jobs).

:func:`progress_bar` yields ``advance(n)``; with a ``total`` the bar shows done/total and the time
left, without one it counts. The plain fallback writes a line at most every 10 % (or every 1,000
items without a total) and one at the end, so a redrive of 100,000 dead letters prints a dozen
lines; they go to the same stream, whatever the logging level of the command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["progress_bar"]

@contextmanager
def progress_bar(description: str, *, total: int | None = None,
                 stream: TextIO | None = None) -> Iterator[Callable[[int], None]]:
    """Show the progress of ``description`` while the block runs; the block calls ``advance(n)``."""
    out = stream or sys.stderr
    if out.isatty():
        from rich.console import Console  # lazy: start-up speed, rich loads only where a bar is drawn
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(file=out), transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)
        return
    done = [0, 0]  # items done, items at the last log line
    step = max(1, total // 10) if total else 1000

    def advance(n: int) -> None:
        done[0] += n
        if done[0] - done[1] >= step:
            done[1] = done[0]
            print(f"{description}: {done[0]}/{total if total is not None else '?'}", file=out, flush=True)

    yield advance
    print(f"{description}: done, {done[0]}", file=out, flush=True)
