"""The injectable clock every simulator keeps its time on.

A simulator never reads the wall clock directly: it asks a :class:`SimClock`, which is the wall
clock plus whatever :meth:`SimClock.advance` added. Tests freeze ``base`` and hand the clock's
:meth:`SimClock.sleep` to the client under test, so backoff, ``Retry-After`` waits, token expiry
and timed outages cost no wall time and every wait the client asked for is on record.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["SimClock"]


class SimClock:
    """Seconds since the epoch: ``base()`` plus whatever :meth:`advance` added.

    Tests pass ``base=lambda: 1_718_010_000.0`` for a frozen, fully controlled clock; a served
    simulator uses the wall clock so tokens expire in real time. The clock is itself a
    ``Callable[[], float]``, so it also fits wherever a plain clock function is expected.
    """

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self._offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now()

    def now(self) -> float:
        return self._base() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds

    async def sleep(self, seconds: float) -> None:
        """An ``asyncio.sleep`` stand-in for clients under test: records the wait, moves this clock."""
        self.sleeps.append(seconds)
        self.advance(seconds)
