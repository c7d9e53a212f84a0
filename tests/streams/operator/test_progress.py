"""Progress of long work: a rich bar on a terminal, a few plain log lines elsewhere."""

from __future__ import annotations

import io

from streams.operator.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_progress_bar_counts_to_the_total() -> None:
    terminal = _Terminal()
    with progress_bar("redrive", total=4, stream=terminal) as advance:
        for _ in range(4):
            advance(1)
    assert "redrive" in terminal.getvalue() and "4/4" in terminal.getvalue()


def test_elsewhere_plain_lines_at_most_every_tenth_and_at_the_end() -> None:
    log = io.StringIO()
    with progress_bar("replay", total=100, stream=log) as advance:
        for _ in range(100):
            advance(1)
    lines = log.getvalue().splitlines()
    assert lines == [f"replay: {n}/100" for n in range(10, 101, 10)] + ["replay: done, 100"]
