"""Where a sink adapter's errors become the sink ports' signals: once, at the adapter's boundary.

The connectors' error tree (:mod:`connectors.base`) says what went wrong talking to a system; the
stream layer's sink worker only needs to know what to do about it (:mod:`connectors.ports`): wait
and retry the batch, dead-letter one record, or stop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from connectors.base import ConnectorError, RetriesExhaustedError, TransientError
from connectors.ports import RecordRejectedError, TargetUnavailableError, TargetUnusableError

__all__ = ["sink_signals"]


def _retry_after(error: ConnectorError) -> float | None:
    if isinstance(error, TransientError):
        return error.retry_after_s
    if isinstance(error, RetriesExhaustedError):
        return _retry_after(error.last_error)
    return None


@contextlib.contextmanager
def sink_signals(*, unusable: tuple[type[BaseException], ...] = (),
                 rejected: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Translate a sink adapter's errors into the ports' signals, once, at its boundary.

    ``TransientError`` and ``RetriesExhaustedError`` (the system is down, busy or rate-limiting
    beyond the client's own retries) become :class:`~connectors.ports.TargetUnavailableError`
    carrying the wait the server asked for, if any; the classes in ``unusable`` become
    :class:`~connectors.ports.TargetUnusableError` (stop the worker), those in ``rejected``
    :class:`~connectors.ports.RecordRejectedError` (dead-letter this record). Anything else passes
    unchanged. The original error is kept as ``__cause__``.
    """
    try:
        yield
    except (TransientError, RetriesExhaustedError) as exc:
        raise TargetUnavailableError(str(exc), retry_after_s=_retry_after(exc)) from exc
    except unusable as exc:
        raise TargetUnusableError(str(exc)) from exc
    except rejected as exc:
        raise RecordRejectedError(str(exc)) from exc
