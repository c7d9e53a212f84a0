"""CSPM alert actions: dismiss or snooze, reopen, remediation CLI and one-click remediation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.prisma.simulator.answers import cspm_error, json_answer, read_body
from connectors.prisma.simulator.catalog import POLICIES
from connectors.prisma.simulator.payloads import transition
from connectors.prisma.simulator.query import (
    QueryError,
    match_filters,
    normalise_filters,
    resolve_time_range,
)

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["dismiss", "remediate", "remediation_cli", "reopen"]


def _select(sim: PrismaCloudSimulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The alerts an action body names: by id, and by policy within ``filter.timeRange``."""
    flt = body.get("filter")
    if not isinstance(flt, dict) or "timeRange" not in flt:
        raise QueryError("filter.timeRange is required", i18n_key="missing_required_parameter",
                         subject="filter")
    start, end = resolve_time_range(flt["timeRange"], sim.clock.now_ms())
    filters = normalise_filters(flt.get("filters"))
    ids, policies = body.get("alerts") or [], set(body.get("policies") or [])
    if not ids and not policies:
        raise QueryError("alerts or policies required", i18n_key="missing_required_parameter",
                         subject="alerts")
    chosen = [sim.alerts[i] for i in ids if i in sim.alerts]
    if policies:
        chosen += [a for a in sim.alerts.values() if a["policyId"] in policies
                   and start <= a["alertTime"] <= end and match_filters(a, filters)]
    return list({a["id"]: a for a in chosen}.values())


def _snooze_until(body: dict[str, Any], now_ms: int) -> int | None:
    """When a snooze (``dismissalTimeRange``) ends; None for a plain dismissal."""
    if body.get("dismissalTimeRange") is None:
        return None
    snooze = body["dismissalTimeRange"]
    if snooze.get("type") == "absolute":
        until = int(snooze["value"]["endTime"])
    else:
        start, _ = resolve_time_range(snooze, now_ms)
        until = now_ms + (now_ms - start)
    if until <= now_ms:
        raise QueryError("snooze must end in the future", subject="dismissalTimeRange")
    return until


async def dismiss(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = await read_body(request)
    now_ms = sim.clock.now_ms()
    until = _snooze_until(body, now_ms)
    eligible = [a for a in _select(sim, body) if a["status"] in ("open", "snoozed")]
    if not eligible:
        return cspm_error(404, "alert_no_longer_in_expected_state")
    for alert in eligible:
        sim.update_alert(transition(alert, "snoozed" if until else "dismissed",
                                    "USER_DISMISSED", now_ms, by=user,
                                    note=str(body.get("dismissalNote") or ""), until_ms=until))
    return Response(b"", status_code=200)


async def reopen(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    for alert in _select(sim, await read_body(request)):
        if alert["status"] in ("dismissed", "snoozed"):
            sim.update_alert(transition(alert, "open", "USER_REOPENED", sim.clock.now_ms(), by=user))
    return Response(b"", status_code=200)


def _cli_for(alert: dict[str, Any]) -> str | None:
    template = POLICIES[alert["policyId"]].cli_template
    if template is None:
        return None
    res = alert["resource"]
    return (template.replace("${resourceName}", res["name"]).replace("${resourceId}", res["id"])
            .replace("${region}", res["regionId"]).replace("${account}", res["accountId"]))


async def remediation_cli(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    alerts = _select(sim, await read_body(request))
    if not alerts:
        return cspm_error(400, "bad_request", "alerts")
    if len({a["policyId"] for a in alerts}) > 1:
        return cspm_error(400, "cannot_remediate_multiple_policy_alerts")
    scripts = {a["id"]: _cli_for(a) for a in alerts}
    if any(s is None for s in scripts.values()):
        return cspm_error(405, "remediation_unavailable")
    first = next(iter(scripts.values()))
    return json_answer({"alertIdVsCliScript": scripts, "cliScript": first,
                        "cliDescription": POLICIES[alerts[0]["policyId"]].cli_description})


async def remediate(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    alert = sim.alerts.get(request.path_params["id"])
    if alert is None:
        return cspm_error(404, "not_found", request.path_params["id"])
    if _cli_for(alert) is None:
        return cspm_error(405, "remediation_unavailable")
    if alert["status"] != "open":
        return cspm_error(400, "invalid_parameter_value", "status")
    sim.update_alert(transition(alert, "resolved", "REMEDIATED", sim.clock.now_ms(), by=user))
    return Response(b"", status_code=200)
