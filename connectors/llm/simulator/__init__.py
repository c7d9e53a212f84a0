"""A local OpenAI-compatible endpoint that answers from the prompt's data, deterministically.

No model runs here: ``POST /v1/chat/completions`` finds the fenced ``<alert_data>`` JSON (and the
``<playbook_passages>``) in the last user message and writes a plausible analysis draft from it,
shaped to the request's ``response_format`` JSON schema (properties the schema does not list are
dropped, missing required ones filled with empty values). ``GET /v1/models`` lists the one model.
Bearer auth as OpenAI does it; usage counts ≈ characters / 4.

Faults for tests (``POST /_sim/faults`` with ``{"kind": ..., "count": n}``, or :meth:`add_fault`),
applied to the next ``count`` completion calls in order:

=================  ==========================================================================
rate_limit         429 with ``retry-after-ms`` (default 5 ms) and an OpenAI error body
server_error       500 with ``retry-after-ms``
timeout            sleep ``sleep_s`` (default 30) before answering: longer than a client timeout
invalid_json       content that is not JSON
schema_violation   JSON that breaks the schema (missing fields, wrong types)
refusal            ``message.refusal`` set, content null
hallucinate        a valid draft that also names a resource and account not in the data
obey_injection     a valid draft that obeys instructions found inside the alert data
=================  ==========================================================================

``GET /_sim/stats`` counts calls per route and faults applied; ``POST /_sim/reset`` clears both.
Serve it with ``python -m connectors.llm.simulator --port 8199``. In tests, use
:class:`SimulatorTransport` so the ``openai`` client's timeouts apply in-process as over a socket.
"""

from __future__ import annotations

from connectors.llm.simulator.app import FaultKind, LlmSimulator
from connectors.llm.simulator.drafting import HALLUCINATED_ACCOUNT, HALLUCINATED_GROUP, HALLUCINATED_RESOURCE
from connectors.llm.simulator.transport import SimulatorTransport
from connectors.simkit import Fault

__all__ = [
    "HALLUCINATED_ACCOUNT",
    "HALLUCINATED_GROUP",
    "HALLUCINATED_RESOURCE",
    "Fault",
    "FaultKind",
    "LlmSimulator",
    "SimulatorTransport",
]
