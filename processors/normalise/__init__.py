"""Turn a :class:`RawAlert` from any source into one normalised :class:`Alert`.

Called by the stateless stage for every record on ``prisma.alerts.raw`` (usually through
:func:`processors.pipeline.normalise_and_enrich`). Dispatches on ``raw.source``:

========================  =================================================================
``cspm_api``              one ``items[]`` element of ``/v2/alert?detailed=true`` (§2.5)
``cspm_webhook``          one element of the CSPM webhook JSON array (§7.2)
``compute_api``           ``{"kind": "incident"|"runtime_audit"|"waas_audit"|"host_scan"|
                          "image_scan"|"container_scan", "record": {...}}``
                          (see :mod:`processors.normalise.compute`)
``compute_webhook``       one Compute alert-profile webhook body, any supported alert type
                          (see :mod:`processors.normalise.compute_webhook`)
========================  =================================================================

Failure: anything that cannot be normalised (bad JSON, a missing required field, an unknown
source or kind) raises :class:`InvalidRecordError` with ``stage="normalise"`` and a reason that
names the field; the Kafka layer sends the record to the dead-letter topic. No other exception
escapes for any payload text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import Alert, AlertSource, Enrichment, RawAlert
from processors.normalise._fields import STAGE, content_hash, module_for_policy
from processors.normalise.asset import attached_instance, canonical_asset_id, parse_rrn
from processors.normalise.compute import (
    COMPUTE_KINDS,
    compute_alert_id,
    normalise_compute_api,
)
from processors.normalise.compute_webhook import (
    normalise_compute_webhook,
    split_compute_webhook,
)
from processors.normalise.cspm import normalise_cspm_api, normalise_cspm_webhook

__all__ = [
    "COMPUTE_KINDS",
    "attached_instance",
    "canonical_asset_id",
    "compute_alert_id",
    "content_hash",
    "module_for_policy",
    "normalise",
    "normalise_with_data",
    "parse_rrn",
    "split_compute_webhook",
]

_Normaliser = Callable[[RawAlert, Any], tuple[Alert, Mapping[str, Any] | None]]

_BY_SOURCE: Mapping[AlertSource, _Normaliser] = {
    AlertSource.CSPM_API: normalise_cspm_api,
    AlertSource.CSPM_WEBHOOK: normalise_cspm_webhook,
    AlertSource.COMPUTE_API: normalise_compute_api,
    AlertSource.COMPUTE_WEBHOOK: normalise_compute_webhook,
}


def normalise_with_data(raw: RawAlert) -> tuple[Alert, Mapping[str, Any] | None]:
    """Normalise and also return the payload's resource data (CSPM ``resource.data``, Compute
    risk factors), so enrichment can read it without a second JSON parse.

    The fused stage uses this; :func:`normalise` is the same plus the data kept in the alert.
    """
    handler = _BY_SOURCE.get(raw.source)
    if handler is None:  # pragma: no cover - AlertSource is closed; kept for model drift
        raise InvalidRecordError(f"unknown source {raw.source!r}", stage=STAGE)
    try:
        payload = json.loads(raw.payload_json)
    except (ValueError, RecursionError) as exc:
        raise InvalidRecordError(f"payload_json is not valid JSON: {exc}"[:200], stage=STAGE) from exc
    try:
        return handler(raw, payload)
    except InvalidRecordError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # pydantic's ValidationError is a ValueError: a field of the wrong kind deep inside.
        raise InvalidRecordError(
            f"{raw.source.value} payload not normalisable: {type(exc).__name__}: {exc}"[:300], stage=STAGE
        ) from exc


def normalise(raw: RawAlert) -> Alert:
    """Normalise one raw alert; the payload's resource data travels in ``enrichment.resource_config_json``."""
    alert, data = normalise_with_data(raw)
    if data:
        alert = alert.model_copy(
            update={"enrichment": Enrichment(resource_config_json=json.dumps(data, default=str))}
        )
    return alert
