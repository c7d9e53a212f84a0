"""Riding out a broker outage: bounded blocking calls, and one log line per interval while it lasts.

Two small tools every long-running process shares:

- :func:`call_with_deadline` runs a blocking Kafka client call in a helper thread and gives up
  waiting after a deadline. librdkafka's transactional calls take a timeout, but
  ``send_offsets_to_transaction`` is known to ignore it while the group coordinator is away
  (confluentinc/librdkafka#5456, open against 2.14/2.16): a process that waited on it blocked for
  minutes and ignored SIGTERM. With the call in a helper thread the caller stays responsive, can
  abandon the stuck client and build a fresh one.
- :class:`OutageLog` turns a stream of identical failures ("broker unreachable", every few hundred
  milliseconds while an outage lasts) into one WARNING per interval with how long it has lasted, and
  one INFO line when it is over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from streams.errors import BrokerError

__all__ = ["CallTimedOut", "OutageLog", "call_with_deadline", "Stopping"]

T = TypeVar("T")


class CallTimedOut(BrokerError):
    """A blocking client call did not return within its deadline; the client is presumed stuck."""


class Stopping(BrokerError):
    """The process was asked to stop while it waited for the broker; nothing was committed."""


def call_with_deadline(fn: Callable[[], T], deadline_s: float, *, what: str,
                       stop: threading.Event | None = None) -> T:
    """``fn()`` in a daemon thread; its result, its exception, or :class:`CallTimedOut`.

    Waits in short slices so a ``stop`` request (SIGTERM) is honoured within half a second: then
    :class:`Stopping` is raised and the call is left to finish (or not) on its own thread.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name=f"kafka-call-{what}", daemon=True).start()
    until = time.monotonic() + deadline_s
    while not done.wait(0.5):
        if stop is not None and stop.is_set():
            raise Stopping(f"stopped while waiting for {what}")
        if time.monotonic() > until:
            raise CallTimedOut(f"{what} did not return within {deadline_s:.0f} s")
    if failure:
        raise failure[0]
    return outcome[0]


class OutageLog:
    """Logs a lasting problem once per ``interval_s`` and its end once.

    ``failing(reason)`` on every failed attempt, ``recovered()`` after the first success. Not
    thread-safe; each loop owns its own.
    """

    def __init__(self, logger: logging.Logger, what: str, *, interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log, self._what, self._interval, self._clock = logger, what, interval_s, clock
        self._since: float | None = None
        self._logged_at = 0.0
        self._attempts = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failing(self, reason: object) -> None:
        now = self._clock()
        self._attempts += 1
        if self._since is None:
            self._since = now
            self._logged_at = now
            self._log.warning("waiting for the broker what=%s reason=%s", self._what, reason)
        elif now - self._logged_at >= self._interval:
            self._logged_at = now
            self._log.warning("still waiting for the broker what=%s for_s=%.0f attempts=%d reason=%s",
                              self._what, now - self._since, self._attempts, reason)

    def recovered(self) -> None:
        if self._since is None:
            return
        self._log.info("broker reachable again what=%s after_s=%.1f attempts=%d", self._what,
                       self._clock() - self._since, self._attempts)
        self._since = None
        self._attempts = 0
