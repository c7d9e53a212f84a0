"""The life of a long-running Prismaflow process: run until SIGTERM/SIGINT, end within the grace period.

:func:`run_until_signalled` runs the process's main loop on a worker thread and keeps the main
thread free to receive signals. Python runs signal handlers on the main thread only, between
bytecodes: a main thread blocked inside a client library call (a Kafka call waiting out an outage)
would not see SIGTERM until the call returned — one worker ignored SIGTERM for minutes that way.
Here the main thread only waits, so a signal is seen at once; it asks the loop to stop, and if the
loop has not ended ``grace_s`` later (a call stuck in a client library), the process exits anyway
with status 1, so a supervisor (Kubernetes, systemd) is never left waiting for SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

__all__ = ["run_until_signalled", "AsyncStopper", "DEFAULT_GRACE_S"]

log = logging.getLogger(__name__)

#: Below Kubernetes' default terminationGracePeriodSeconds (30 s).
DEFAULT_GRACE_S = 25.0


def run_until_signalled(main: Callable[[], int | None], stop: Callable[[], None], *, name: str,
                        grace_s: float = DEFAULT_GRACE_S) -> int:
    """Run ``main()`` until it returns; on SIGTERM/SIGINT call ``stop()`` (thread-safe) and wait.

    Returns ``main``'s status (0 for ``None``). An exception in ``main`` is re-raised here. When the
    loop does not end within ``grace_s`` of the signal, the process exits at once with status 1.
    """
    result: list[int | None] = []
    failure: list[BaseException] = []
    signalled = threading.Event()

    def target() -> None:
        try:
            result.append(main())
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            failure.append(exc)

    def on_signal(signum: int, _frame: object) -> None:
        if signalled.is_set():
            return
        signalled.set()
        log.info("stopping process=%s signal=%s grace_s=%.0f", name, signal.Signals(signum).name, grace_s)
        stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=target, name=f"{name}-main", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
            if signalled.is_set():
                thread.join(grace_s)
                if thread.is_alive():
                    log.error("did not stop within the grace period process=%s grace_s=%.0f; exiting", name, grace_s)
                    _exit_now(1)
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failure:
        raise failure[0]
    return int(result[0] or 0) if result else 0


class AsyncStopper:
    """A stop request that crosses threads into an asyncio loop.

    The loop calls :meth:`bind` once (inside the loop) and awaits the event it returns; the signal
    side calls :meth:`stop` from any thread, before or after the binding. ``threading_event`` is set
    too, for blocking code the loop runs in helper threads.
    """

    def __init__(self) -> None:
        self.threading_event = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._lock = threading.Lock()

    def bind(self) -> asyncio.Event:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
            if self.threading_event.is_set():
                self._event.set()
            return self._event

    def stop(self) -> None:
        with self._lock:
            self.threading_event.set()
            if self._loop is not None and self._event is not None:
                self._loop.call_soon_threadsafe(self._event.set)


def _exit_now(status: int) -> None:
    """Leave without running finalisers: a client stuck in a call must not hold the exit up."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
