"""librdkafka's own log lines, through Python logging and at most once per interval each.

Without a logger, librdkafka writes every connection failure to stderr: a worker waiting for a
broker that is away printed a line every 50 ms (2,700 lines in one two-minute outage). Every client
Prismaflow builds passes :data:`KAFKA_LOGGER` (``KafkaSettings.client_config``), so those lines go
through Python logging under ``prismaflow.kafka`` with the process's format and level, and
:class:`OncePerInterval` lets each kind of line through once per ``interval_s`` with the number of
similar lines it held back. Errors of the clients themselves reach the code as exceptions or error
events; these lines are for the operator.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

__all__ = ["KAFKA_LOGGER", "OncePerInterval"]

_VARYING = re.compile(r"\d+|\[thrd:[^\]]*\]")


class OncePerInterval(logging.Filter):
    """Passes a record when no similar one (same facility, same text up to numbers) passed within
    ``interval_s``; counts the others and names their number on the next one that passes."""

    def __init__(self, interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval, self._clock = interval_s, clock
        self._seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        key = f"{record.levelno}|" + "|".join(_VARYING.sub("#", str(a)) for a in args[:1] + args[2:])
        now = self._clock()
        with self._lock:
            passed_at, held = self._seen.get(key, (float("-inf"), 0))
            if now - passed_at < self._interval:
                self._seen[key] = (passed_at, held + 1)
                return False
            self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (and {held} similar in the last {self._interval:.0f} s)"
        return True


KAFKA_LOGGER = logging.getLogger("prismaflow.kafka")
KAFKA_LOGGER.addFilter(OncePerInterval())
