"""The event loop a synchronous remediation stage runs its HTTP calls on (Jira, chat, the Prisma re-check)."""

from __future__ import annotations

import asyncio

__all__ = ["OwnEventLoop"]


class OwnEventLoop:
    """Mixin: one event loop per stage, made on first use and closed by :meth:`close`."""

    _loop_held: asyncio.AbstractEventLoop | None = None

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self._loop_held is None:
            self._loop_held = asyncio.new_event_loop()
        return self._loop_held

    def close(self) -> None:
        """Close the event loop the stage's HTTP calls ran on (call after the worker stopped)."""
        if self._loop_held is not None:
            self._loop_held.run_until_complete(self._loop_held.shutdown_asyncgens())
            self._loop_held.close()
            self._loop_held = None
