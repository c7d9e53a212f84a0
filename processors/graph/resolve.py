"""Moving a finding known only by host name onto the instance that host is.

The stream core calls :func:`resolve_onto` when a Compute record that knows only a host name
(asset ``…:host/<name>``) arrives in the instance's partition, re-keyed there by the host's
partition, which learnt from the instance's configuration which instance the name is
(:mod:`processors.graph`). The alert then looks exactly as if Compute had known the instance id:
same asset id, account and region, a host-vulnerability id qualified by the account, and the
content hash recomputed over the new asset id, so it dedupes with the instance's other views.
"""

from __future__ import annotations

from processors.models import Alert
from processors.normalise._fields import content_hash
from processors.normalise.asset import asset_kind, host_key

__all__ = ["resolve_onto"]

_HOST_VULNS = "cwpp:host-vulns:"


def _account_region(asset_id: str) -> tuple[str, str]:
    parts = asset_id.split(":", 3)
    return (parts[1], parts[2]) if len(parts) == 4 else ("", "")


def resolve_onto(alert: Alert, instance_asset_id: str) -> Alert:
    """``alert`` (on a host known only by name) as a finding on ``instance_asset_id``.

    Raises ValueError when ``alert`` is not on a host asset or the target is not an instance: only
    a host name is resolved, never another kind of asset.
    """
    if asset_kind(alert.resource.asset_id) != "host" or asset_kind(instance_asset_id) != "instance":
        raise ValueError(f"cannot move {alert.resource.asset_id!r} onto {instance_asset_id!r}")
    account, region = _account_region(instance_asset_id)
    resource = alert.resource.model_copy(update={
        "asset_id": instance_asset_id,
        "resource_id": instance_asset_id.split("/", 1)[1],
        "resource_type": "instance",
        "account_id": alert.resource.account_id or account,
        "region": alert.resource.region or region,
    })
    alert_id = alert.alert_id
    if alert_id.startswith(_HOST_VULNS):
        hostname = alert.resource.name or alert_id[len(_HOST_VULNS):]
        if alert_id == _HOST_VULNS + hostname:  # not yet qualified by an account
            alert_id = _HOST_VULNS + host_key(resource.account_id, hostname)
    digest = content_hash(alert.status, alert.severity, alert.policy_id, instance_asset_id, resource.resource_id,
                          alert.vulnerabilities)
    return alert.model_copy(update={"alert_id": alert_id, "resource": resource, "content_hash": digest})
