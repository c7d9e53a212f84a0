"""A local Slack incoming-webhook and Teams Workflows endpoint, for tests and demos.

:class:`ChatWebhookSimulator` is one Starlette ASGI app (use it with ``httpx.ASGITransport`` or
run it with ``python -m connectors.slack.simulator --port 8282``) that answers like the real
services (see ``sinks-api.md`` §6.4 and §6.5):

* Slack ``POST /services/<T>/<B>/<X>``: ``200 ok`` (text/plain); ``404 no_service`` for an unknown
  hook, ``403 invalid_token`` for a revoked one, ``410 channel_is_archived``; ``400
  invalid_payload`` for a body that is not a JSON object, ``400 no_text`` without ``text`` and
  ``blocks``, ``400 invalid_blocks`` when Block Kit limits are broken; ``429`` + ``Retry-After``
  from a token bucket (1 message/s, burst 5 by default).
* Teams ``POST /workflows/<id>/triggers/manual/paths/invoke?sig=…``: ``401`` for a missing or
  wrong ``sig``, ``400`` for a body that is not JSON, else ``202`` with an empty body, even when
  the card would fail to render; such failures (bad envelope, over 28672 bytes) go to a side
  list, as they would to the flow's run history.

Admin API: ``GET /_sim/messages`` (accepted bodies), ``GET /_sim/render_failures``, ``GET
/_sim/stats`` (calls and statuses per route), ``POST /_sim/faults`` (``{"target": "slack"|"teams",
"status": 429, "body": "...", "retry_after_s": 1, "count": 1}``), ``POST /_sim/reset``.
"""

from __future__ import annotations

from connectors.simkit import Fault
from connectors.slack.simulator.app import ChatWebhookSimulator
from connectors.slack.simulator.validation import validate_blocks

__all__ = ["ChatWebhookSimulator", "Fault", "validate_blocks"]
