"""Ask Prisma Cloud whether a fixed alert is resolved: the executor's re-check after a real run.

Prisma Cloud re-evaluates a resource on its next scan, not when the fix lands, so one look right
after execution usually still says ``open``. :func:`recheck_alert` therefore asks up to ``attempts``
times, ``interval_s`` apart (``sleep`` is a seam), and stops at the first answer that is not
``open``. A failed call is reported (:attr:`RecheckStatus.UNREACHABLE`, or ``NOT_FOUND``), never
raised: the execution already happened and its ledger record must still be written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from connectors.base import ConnectorError, NotFoundError
from processors.remediation.followup import Recheck, RecheckStatus, recheck_of

__all__ = ["AlertReader", "recheck_alert"]

logger = logging.getLogger(__name__)


class AlertReader(Protocol):
    """What the re-check needs of a Prisma Cloud client (:class:`connectors.prisma.CspmClient` has it)."""

    async def get_alert(self, alert_id: str, *, detailed: bool = True) -> dict[str, Any]:
        """``GET /alert/{id}``."""
        ...


async def recheck_alert(reader: AlertReader, alert_id: str, *, attempts: int = 1, interval_s: float = 0.0,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Recheck:
    """The alert's status after a fix, asked up to ``attempts`` times until it is no longer open."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    latest: Recheck | None = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            await sleep(interval_s)
        try:
            alert = await reader.get_alert(alert_id, detailed=False)
        except NotFoundError:
            return Recheck(alert_id=alert_id, status=RecheckStatus.NOT_FOUND, attempts=attempt,
                           detail="Prisma Cloud does not know the alert")
        except ConnectorError as exc:
            latest = Recheck(alert_id=alert_id, status=RecheckStatus.UNREACHABLE, attempts=attempt,
                             detail=type(exc).__name__)
            continue
        latest = recheck_of(alert_id, alert, attempts=attempt)
        if latest.status is not RecheckStatus.STILL_OPEN:
            break
    assert latest is not None
    logger.info("prisma recheck status=%s attempts=%d", latest.status.value, latest.attempts)
    return latest
