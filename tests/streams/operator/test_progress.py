"""Progress of long work: a rich bar on a terminal, a few plain log lines elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

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


def test_elsewhere_plain_log_lines_at_most_every_tenth_and_at_the_end(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="streams.operator.progress")
    with progress_bar("replay", total=100, stream=io.StringIO()) as advance:
        for _ in range(100):
            advance(1)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 11
    assert messages[0] == "progress task=replay done=10 total=100"
    assert messages[-1] == "finished task=replay done=100"
