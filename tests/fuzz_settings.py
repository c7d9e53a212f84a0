"""How many cases the fuzz tests run: a few hundred in ``make test``, ``PRISMAFLOW_FUZZ_EXAMPLES`` in a long run.

``make fuzz`` sets ``PRISMAFLOW_FUZZ_EXAMPLES=10000``. Each fuzz test takes its share of the number
(:func:`fuzz_examples`); the receiver's own fuzz test takes all of it.
"""

from __future__ import annotations

import os

__all__ = ["FUZZ_EXAMPLES", "fuzz_examples"]

FUZZ_EXAMPLES = int(os.environ.get("PRISMAFLOW_FUZZ_EXAMPLES", "250"))


def fuzz_examples(share: float = 1.0, minimum: int = 10) -> int:
    """This test's number of cases: ``share`` of the configured total, at least ``minimum``."""
    return max(minimum, int(FUZZ_EXAMPLES * share))
