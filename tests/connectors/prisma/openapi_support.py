"""Validate simulator responses against the official Prisma Cloud OpenAPI 3.0 documents.

OpenAPI 3.0 schemas are close to JSON Schema draft 4; the differences handled here are
``nullable: true`` (rewritten to ``anyOf [..., {"type": "null"}]``) and OpenAPI-only keywords
(dropped). ``$ref`` pointers stay as they are and resolve against the document's
``components``.

Where the official document contradicts real payloads, the check is not weakened silently: each
correction is a :class:`SpecDeviation` listed in :data:`DEVIATIONS` with the reason and evidence,
applied at load time, and a test asserts the document still says what the deviation claims, so a
fixed spec makes that test fail and the workaround gets removed.
"""

from __future__ import annotations

import copy
import gzip
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

#: The vendored official documents, each gzip-compressed as ``<name>.gz`` (see the README there).
SPEC_DIR = Path(__file__).resolve().parents[2] / "data" / "prisma-cloud-openapi"
_OPENAPI_ONLY = {"example", "examples", "xml", "discriminator", "externalDocs", "deprecated",
                 "readOnly", "writeOnly", "nullable"}
_LOWER_CLOUDS = ["aws", "azure", "gcp", "alibaba_cloud", "oci", "ibm"]


@dataclass(frozen=True)
class SpecDeviation:
    """One place where the official document is wrong for real data, and the fix we apply."""

    doc: str
    pointer: str
    documented: Any
    corrected: Any
    why: str


DEVIATIONS: tuple[SpecDeviation, ...] = (
    SpecDeviation(
        "cspm/Alerts.json", "/components/schemas/PolicyModel/properties/severity/enum",
        ["high", "medium", "low"], ["critical", "high", "medium", "low", "informational"],
        "The /v2/alert and /policy query enums, the alert filter options and real alerts use "
        "five severities; the response enum was never updated (reference section 9).",
    ),
    SpecDeviation(
        "cspm/Alerts.json", "/components/schemas/CloudResourceModel/properties/cloudType/enum",
        ["ALL", "AWS", "AZURE", "GCP", "ALIBABA_CLOUD", "OCI", "IBM"],
        ["ALL", "AWS", "AZURE", "GCP", "ALIBABA_CLOUD", "OCI", "IBM", *_LOWER_CLOUDS],
        "Real alert payloads (XSOAR RedLock test data) carry lower-case resource.cloudType "
        "(reference 2.5).",
    ),
    SpecDeviation(
        "cspm/Alerts.json", "/components/schemas/HistoryModel/properties/status/enum",
        ["OPEN", "DISMISSED", "SNOOZED", "PENDING_RESOLUTION", "RESOLVED"],
        ["OPEN", "DISMISSED", "SNOOZED", "PENDING_RESOLUTION", "RESOLVED",
         "open", "dismissed", "snoozed", "pending_resolution", "resolved"],
        "history[].status is lower-case in real data (reference 2.5); AlertModel.status itself "
        "is documented lower-case.",
    ),
    SpecDeviation(
        "cspm/ResourceExplorer.json", "/components/schemas/ResourceMetaModel/properties/rrn",
        {"allOf": [{"$ref": "#/components/schemas/RRNModel"}, {"description": "RRN"}]},
        {"type": "string", "description": "RRN"},
        "The spec types /resource's rrn as an object, config-search results (same model in "
        "SearchMicroService.json) as a string; the reference (4.1) keeps the string [UNCONFIRMED].",
    ),
    SpecDeviation(
        "cspm/ResourceExplorer.json",
        "/components/schemas/ResourceMetaModel/properties/cloudType/enum",
        ["ALL", "AWS", "AZURE", "GCP", "ALIBABA_CLOUD", "OCI", "IBM"],
        ["ALL", "AWS", "AZURE", "GCP", "ALIBABA_CLOUD", "OCI", "IBM", *_LOWER_CLOUDS],
        "Resource payloads carry lower-case cloudType (XSOAR RedLock README sample).",
    ),
    SpecDeviation(
        "cspm/SearchMicroService.json",
        "/components/schemas/ResourceMetaModel/properties/cloudType/enum",
        ["ALL", "AWS", "AZURE", "GCP", "ALIBABA_CLOUD", "OCI", "OTHER", "IBM"],
        ["ALL", "AWS", "AZURE", "GCP", "ALIBABA_CLOUD", "OCI", "OTHER", "IBM", *_LOWER_CLOUDS],
        "Search items are lower-case in the real sample, and the same document's top-level "
        "search cloudType enum is lower-case.",
    ),
)

DEVIATIONS += (
    SpecDeviation(
        "cspm/Alerts.json", "/components/schemas/PolicyModel/required",
        ["name", "policyType", "rule", "severity"], ["policyType"],
        "Without detailed=true, /v2/alert returns policy {policyId, policyType, systemDefault, "
        "remediable} only (reference 2.2, XSOAR alert_raw.json); detailed alerts are checked "
        "for name/rule/severity separately.",
    ),
    SpecDeviation(
        "cwpp/openapi-34-03-138-saas.json",
        "/components/schemas/vulnerability.RiskFactors/additionalProperties",
        {"$ref": "#/components/schemas/string"}, {},
        "Real scan results encode risk factors as {\"Has fix\": {}, ...}: empty objects, not "
        "strings (reference 6.6).",
    ),
)

DEVIATIONS += (
    SpecDeviation(
        "cspm/Alerts.json",
        "/components/schemas/ToNowTimeRangeConfigModel/allOf/1/properties/value/enum",
        ["MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "EPOCH", "LOGIN"],
        ["MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "YEAR", "EPOCH", "LOGIN",
         "minute", "hour", "day", "week", "month", "year", "epoch", "login"],
        "pan.dev's time-range model page and every client (SDK, XSOAR) use lower-case to_now "
        "values such as 'epoch' (reference 2.2); the simulator accepts both.",
    ),
    SpecDeviation(
        "cspm/SearchMicroService.json", "/components/schemas/TimeRangeConfigModel",
        {"type": "object", "properties": {
            "type": {"type": "string", "description": "Time type", "enum": ["relative"]},
            "value": {"$ref": "#/components/schemas/RelativeTimeDurationModel"}},
         "description": "Model for TimeRangeConfig", "discriminator": {"propertyName": "type"}},
        {"type": "object", "required": ["type"], "properties": {
            "type": {"type": "string", "enum": ["relative", "absolute", "to_now"]}}},
        "Config search accepts absolute and to_now ranges too: XSOAR sends "
        "{type: to_now, value: epoch} by default (reference 4.2); the document allows only "
        "'relative'.",
    ),
)

#: The CWPP document wraps every enum in an extra array (``"enum": [["aws", "azure", ...]]``),
#: which as JSON Schema would only accept the array itself. Validation flattens them;
#: a test asserts the document still has them.
NESTED_ENUM_DOCS = frozenset({"cwpp/openapi-34-03-138-saas.json"})


def count_nested_enums(node: Any) -> int:
    if isinstance(node, list):
        return sum(count_nested_enums(n) for n in node)
    if not isinstance(node, dict):
        return 0
    own = int(isinstance(node.get("enum"), list) and len(node["enum"]) == 1
              and isinstance(node["enum"][0], list))
    return own + sum(count_nested_enums(v) for v in node.values())


def _flatten_enums(node: Any) -> None:
    if isinstance(node, list):
        for n in node:
            _flatten_enums(n)
    elif isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], list):
            node["enum"] = enum[0]
        for v in node.values():
            _flatten_enums(v)


#: Compute list endpoints; their 200 schemas (``-_shared.X``) are arrays of ``shared.X``.
COMPUTE_LIST_ENDPOINTS = (
    "/api/v34.03/audits/incidents", "/api/v34.03/audits/runtime/container",
    "/api/v34.03/audits/runtime/host", "/api/v34.03/containers", "/api/v34.03/hosts",
    "/api/v34.03/images",
)


def pointer_get(doc: Any, pointer: str) -> Any:
    node = doc
    for part in pointer.lstrip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _pointer_set(doc: Any, pointer: str, value: Any) -> None:
    *parents, last = pointer.lstrip("/").split("/")
    parent = pointer_get(doc, "/" + "/".join(parents))
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value


def spec_path(name: str) -> Path:
    """Where the vendored, compressed copy of document ``name`` (e.g. ``cspm/Alerts.json``) lies."""
    return SPEC_DIR / f"{name}.gz"


def document_bytes(name: str) -> bytes:
    """The official document's bytes, exactly as upstream published them."""
    return gzip.decompress(spec_path(name).read_bytes())


@cache
def raw_document(name: str) -> dict[str, Any]:
    """The official document, unchanged."""
    loaded: dict[str, Any] = json.loads(document_bytes(name))
    return loaded


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k not in _OPENAPI_ONLY}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _break_discriminator_cycles(schemas: dict[str, Any]) -> None:
    """Inline ``oneOf`` members that ``allOf``-reference their own discriminated parent.

    ``TimeRangeConfigModel`` is ``oneOf [Relative, Absolute, ToNow]`` and each member is
    ``allOf [TimeRangeConfigModel, ...]``: fine for code generators, infinite recursion for a
    JSON Schema validator. Each member is inlined without the back-reference and pinned to its
    discriminator value, which is what the discriminator means.
    """
    for name, schema in schemas.items():
        disc = schema.get("discriminator") or {}
        mapping, prop = disc.get("mapping"), disc.get("propertyName")
        if not mapping or "oneOf" not in schema:
            continue
        back = f"#/components/schemas/{name}"
        members = []
        for value, ref in mapping.items():
            member = copy.deepcopy(schemas[ref.rsplit("/", 1)[-1]])
            parts = [p for p in member.get("allOf", [member]) if p.get("$ref") != back]
            members.append({"allOf": [*parts, {"properties": {prop: {"enum": [value]}}}]})
        schema["oneOf"] = members


@cache
def corrected_document(name: str) -> dict[str, Any]:
    """The document with :data:`DEVIATIONS` applied and schemas rewritten to JSON Schema."""
    doc = copy.deepcopy(raw_document(name))
    for deviation in DEVIATIONS:
        if deviation.doc == name:
            _pointer_set(doc, deviation.pointer, copy.deepcopy(deviation.corrected))
    if name in NESTED_ENUM_DOCS:
        _flatten_enums(doc)
    _break_discriminator_cycles(doc["components"].get("schemas", {}))
    doc["components"] = _to_json_schema(doc["components"])
    return doc


def response_validator(name: str, path: str, method: str, status: str = "200") -> Draft4Validator:
    """A validator for the documented response body of ``method path``."""
    doc = corrected_document(name)
    content = doc["paths"][path][method.lower()]["responses"][status]["content"]
    schema = _to_json_schema(next(iter(content.values()))["schema"])
    return Draft4Validator({**schema, "components": doc["components"]})


def request_validator(name: str, path: str, method: str) -> Draft4Validator:
    """A validator for the documented request body of ``method path``."""
    doc = corrected_document(name)
    content = doc["paths"][path][method.lower()]["requestBody"]["content"]
    schema = _to_json_schema(next(iter(content.values()))["schema"])
    return Draft4Validator({**schema, "components": doc["components"]})


def errors(validator: Draft4Validator, instance: Any, limit: int = 5) -> list[str]:
    """Readable validation errors (path: message), at most ``limit``."""
    found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in found[:limit]]
