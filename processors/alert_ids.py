"""Which alert ids belong to Prisma Cloud's Alert API (CSPM and CIEM), and so can be looked up,
dismissed or re-checked there.

The Alert API names an alert by one capital letter, a dash and digits: ``P-…`` for configuration,
network and audit-event policies and ``I-…`` for IAM (CIEM) policies (both seen in published
payloads, e.g. ``tests/data/real/chronicle-content-hub/prisma_verify_alert_I-226467.json``).
Compute (CWPP) findings and Code Security results have ids of other forms and no Alert API alert.
"""

from __future__ import annotations

import re

__all__ = ["is_alert_api_id"]

_ALERT_API_ID = re.compile(r"[A-Z]-[0-9]+")


def is_alert_api_id(alert_id: str) -> bool:
    """True for an id of the Alert API's form (``P-123``, ``I-226467``)."""
    return _ALERT_API_ID.fullmatch(alert_id) is not None
