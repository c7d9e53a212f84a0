"""AWS CLI text, as an analysis suggests it, turned into a structured action, or refused with reasons.

An analysis' remediation step carries a command such as ``aws s3api put-public-access-block
--bucket x --public-access-block-configuration BlockPublicAcls=true,...``. Nothing ever runs that
text: it is split like a POSIX shell would (:func:`shlex.split`, no expansion), every piece of
shell syntax refuses it, and the rest is mapped onto botocore's model through the
:class:`~processors.remediation.ports.ServiceCatalog`: ``aws <cli-service> <verb>`` to a service
and operation (``s3api`` → ``s3``, ``put-public-access-block`` → ``PutPublicAccessBlock``),
``--kebab-param value`` to the operation's input member (scalars, JSON, shorthand), typed as the
model says. The result must be a valid input of the operation, else it is refused too.

What is refused, each with its reason: shell syntax, credentials and profiles, invisible or
non-ASCII characters, values that make the CLI read a file or URL (``file://``), options that
change where or how the CLI talks to AWS (``--endpoint-url``, ``--no-verify-ssl``), unknown
services, operations or parameters, and values that do not parse.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from processors.remediation.plan import ActionKind, PlannedAction
from processors.remediation.ports import ServiceCatalog, ShapeInfo
from processors.remediation.shorthand import ShorthandError, coerce, parse_shorthand
from processors.remediation.text_rules import credential_reasons, shell_syntax_reasons, unicode_reasons

__all__ = ["CLI_SERVICES", "REGION", "Translation", "translate_aws_command"]

CLI_SERVICES: dict[str, str] = {"s3api": "s3", "configservice": "config"}
"""CLI service names that differ from botocore's; every other CLI name is botocore's own."""

REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
"""An AWS region name (``eu-west-1``, ``us-gov-west-1``)."""

_IGNORED_OPTIONS = {"--output": 1, "--no-cli-pager": 0, "--no-paginate": 0, "--color": 1}
_REFUSED_OPTIONS = {
    "--profile": "credentials: --profile selects stored credentials; the executor brings its own",
    "--endpoint-url": "--endpoint-url would send the call somewhere other than AWS",
    "--no-verify-ssl": "--no-verify-ssl turns off TLS verification",
    "--ca-bundle": "--ca-bundle changes which TLS certificates are trusted",
    "--no-sign-request": "--no-sign-request makes an anonymous call",
    "--cli-input-json": "--cli-input-json reads parameters from elsewhere",
    "--cli-input-yaml": "--cli-input-yaml reads parameters from elsewhere",
    "--generate-cli-skeleton": "--generate-cli-skeleton does not run the operation",
    "--debug": "--debug would log request signatures",
    "--query": "--query is output filtering, not part of a fix",
}
_LOADED_VALUE = re.compile(r"^(file|fileb|https?)://", re.IGNORECASE)
_SG_INGRESS = {"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"}
_SG_SIMPLE = ("--protocol", "--port", "--cidr", "--source-group", "--group-owner")


@dataclass(frozen=True)
class Translation:
    """The action a command stands for, or None and every reason it was refused."""

    action: PlannedAction | None
    reasons: tuple[str, ...] = ()


def _refuse(*reasons: str) -> Translation:
    return Translation(None, tuple(reasons))


def translate_aws_command(command: str, catalog: ServiceCatalog, *, region: str = "") -> Translation:
    """Turn one ``aws ...`` command into an ``AWS_API`` action; ``region`` is used unless ``--region`` says.

    The action's ``target_resource`` is left empty: which parameter names the target depends on
    the plan's policy family, so the planner fills it in.
    """
    text_reasons = shell_syntax_reasons(command) + credential_reasons(command) + unicode_reasons(command)
    if text_reasons:
        return _refuse(*text_reasons)
    try:
        argv = shlex.split(command, comments=False, posix=True)
    except ValueError as exc:
        return _refuse(f"not a well-formed command: {exc}")
    if not argv or argv[0] != "aws":
        return _refuse("not an AWS CLI command (it must start with 'aws')")
    words, options, reasons = _split(argv[1:])
    if len(words) != 2:
        return _refuse(*reasons, f"expected 'aws <service> <operation>', got {' '.join(words[:4])!r}")
    cli_service, cli_operation = words
    service = CLI_SERVICES.get(cli_service, cli_service)
    operation = catalog.operation_for_cli(service, cli_operation)
    shape = catalog.input_shape(service, operation) if operation else None
    if operation is None or shape is None:
        return _refuse(*reasons, f"'aws {cli_service} {cli_operation}' is not an operation in botocore's models")
    parameters, action_region, option_reasons = _parameters(options, shape, operation, region)
    reasons += option_reasons
    if reasons:
        return _refuse(*reasons)
    errors = catalog.parameter_errors(service, operation, parameters)
    if errors:
        return _refuse(*(f"invalid for {service} {operation}: {e}" for e in errors))
    return Translation(PlannedAction(
        kind=ActionKind.AWS_API,
        description=f"aws {cli_service} {cli_operation}",
        target_resource="",
        region=action_region,
        service=service,
        operation=operation,
        parameters=parameters,
    ))


def _split(tokens: list[str]) -> tuple[list[str], list[tuple[str, list[str]]], list[str]]:
    """Positional words, ``--options`` with the values after each, and reasons to refuse."""
    words: list[str] = []
    options: list[tuple[str, list[str]]] = []
    reasons: list[str] = []
    for token in tokens:
        if token.startswith("--"):
            options.append((token, []))
        elif options:
            options[-1][1].append(token)
        else:
            words.append(token)
    seen: set[str] = set()
    for name, _ in options:
        if name in seen:
            reasons.append(f"{name} given more than once")
        seen.add(name)
    return words, options, reasons


def _parameters(options: list[tuple[str, list[str]]], shape: ShapeInfo, operation: str,
                region: str) -> tuple[dict[str, Any], str, list[str]]:
    parameters: dict[str, Any] = {}
    reasons: list[str] = []
    simple: dict[str, str] = {}
    for name, values in options:
        if any(_LOADED_VALUE.match(v) for v in values):
            reasons.append(f"{name}: a file:// or URL value would make the CLI load content from elsewhere")
            continue
        if name in _REFUSED_OPTIONS:
            reasons.append(_REFUSED_OPTIONS[name])
        elif name == "--region":
            if len(values) != 1 or not REGION.match(values[0]):
                reasons.append(f"--region must be one AWS region name, not {' '.join(values)[:40]!r}")
            else:
                region = values[0]
        elif name in _IGNORED_OPTIONS:
            if len(values) != _IGNORED_OPTIONS[name]:
                reasons.append(f"{name} takes {_IGNORED_OPTIONS[name]} value(s)")
        elif operation in _SG_INGRESS and name in _SG_SIMPLE:
            if len(values) != 1:
                reasons.append(f"{name} takes one value")
            else:
                simple[name] = values[0]
        else:
            reasons.extend(_member(name, values, shape, parameters))
    if simple:
        try:
            parameters["IpPermissions"] = [_simple_permission(simple)]
        except ValueError as exc:
            reasons.append(str(exc))
    return parameters, region, reasons


def _member(option: str, values: list[str], shape: ShapeInfo, parameters: dict[str, Any]) -> list[str]:
    """Put one ``--option value...`` into ``parameters``; the reasons it cannot be, if any."""
    cli_name = option[2:]
    member = shape.cli_names.get(cli_name)
    negated = False
    if member is None and cli_name.startswith("no-"):
        member = shape.cli_names.get(cli_name[3:])
        negated = member is not None
    if member is None:
        return [f"unknown parameter {option}"]
    member_shape = shape.members[member]
    if member in parameters:
        return [f"{option} sets {member}, which is already set"]
    if member_shape.type_name == "boolean" and not values:
        parameters[member] = not negated
        return []
    if negated:
        return [f"{option}: only boolean parameters have a --no- form"]
    if not values:
        return [f"{option} needs a value"]
    try:
        raw = _raw_value(values, member_shape)
        parameters[member] = coerce(raw, member_shape, member)
    except (ShorthandError, json.JSONDecodeError) as exc:
        return [f"{option}: cannot parse the value: {exc}"]
    return []


def _raw_value(values: list[str], shape: ShapeInfo) -> Any:
    kind = shape.type_name
    first = values[0]
    if kind in ("structure", "map"):
        if len(values) != 1:
            raise ShorthandError("one structure expected")
        return json.loads(first) if first.lstrip().startswith("{") else parse_shorthand(first)
    if kind == "list":
        if len(values) == 1 and first.lstrip().startswith("["):
            return json.loads(first)
        member = shape.member
        if member is not None and member.type_name == "structure":
            return [json.loads(v) if v.lstrip().startswith("{") else parse_shorthand(v) for v in values]
        return list(values)
    if len(values) != 1:
        raise ShorthandError(f"one value expected, got {len(values)}")
    return first


def _simple_permission(simple: dict[str, str]) -> dict[str, Any]:
    """The AWS CLI's ``--protocol --port --cidr`` form of a security-group rule, as ``IpPermissions``."""
    protocol = simple.get("--protocol", "")
    if not protocol:
        raise ValueError("--port/--cidr/--source-group need --protocol")
    permission: dict[str, Any] = {"IpProtocol": "-1" if protocol == "all" else protocol}
    port = simple.get("--port")
    if port is not None and port not in ("all", "-1"):
        low, _, high = port.partition("-")
        try:
            permission["FromPort"], permission["ToPort"] = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"--port must be a port or a range, not {port[:20]!r}") from None
    elif port is not None:
        permission["FromPort"], permission["ToPort"] = -1, -1
    cidr = simple.get("--cidr")
    if cidr:
        key, inner = ("Ipv6Ranges", "CidrIpv6") if ":" in cidr else ("IpRanges", "CidrIp")
        permission[key] = [{inner: cidr}]
    if "--source-group" in simple:
        pair = {"GroupId": simple["--source-group"]}
        if "--group-owner" in simple:
            pair["UserId"] = simple["--group-owner"]
        permission["UserIdGroupPairs"] = [pair]
    return permission
