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

import argparse
import asyncio
import json
import math
import re
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = ["Fault", "FaultKind", "LlmSimulator", "SimulatorTransport", "main"]

FaultKind = Literal[
    "rate_limit", "server_error", "timeout", "invalid_json", "schema_violation", "refusal",
    "hallucinate", "obey_injection",
]
_FAULT_KINDS: frozenset[str] = frozenset(FaultKind.__args__)  # type: ignore[attr-defined]

HALLUCINATED_RESOURCE = "i-0deadbeef0badf00d"
HALLUCINATED_ACCOUNT = "999988887777"
HALLUCINATED_GROUP = "sg-0badc0ffee1234567"

_FENCE = re.compile(r"<alert_data>\s*(.*?)\s*</alert_data>", re.DOTALL)
_PASSAGES = re.compile(r"<playbook_passages>\s*(.*?)\s*</playbook_passages>", re.DOTALL)
_INJECTION = re.compile(r"ignore (?:all )?(?:previous|prior|above) instructions[^.\"]*", re.IGNORECASE)
_BACKTICKS = re.compile(r"`([^`]{3,200})`")


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next ``count`` completion calls."""

    kind: FaultKind
    count: int = 1
    retry_after_s: float = 0.005
    sleep_s: float = 30.0


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return JSONResponse(body, status_code=status, headers=headers)


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _short_id(resource_id: str) -> str:
    return re.split(r"[/:]", resource_id)[-1] if resource_id else ""


def _command_for(data: dict[str, Any]) -> tuple[str, str]:
    """(description, command) a competent analyst would write for the finding, by keyword."""
    alert, resource = data.get("alert", {}), data.get("resource", {})
    name = str(alert.get("policy_name", "")).lower()
    rid, rname = str(resource.get("resource_id", "")), str(resource.get("name", ""))
    short, cloud = _short_id(rid), str(resource.get("cloud", ""))
    if cloud == "aws" and "s3" in name and "public" in name:
        return ("Block public access on the bucket",
                f"aws s3api put-public-access-block --bucket {rname or short} --public-access-block-configuration "
                "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true")
    if cloud == "aws" and "security group" in name:
        return ("Revoke the world-open SSH rule",
                f"aws ec2 revoke-security-group-ingress --group-id {short} --protocol tcp --port 22 --cidr 0.0.0.0/0")
    if cloud == "aws" and ("imds" in name or "metadata" in name):
        return ("Require IMDSv2", f"aws ec2 modify-instance-metadata-options --instance-id {short} --http-tokens required")
    if cloud == "azure" and "storage" in name and "public" in name:
        return ("Disable anonymous blob access",
                f"az storage account update --name {rname or short} --allow-blob-public-access false")
    if cloud == "gcp" and "bucket" in name and "public" in name:
        return ("Enforce public access prevention",
                f"gcloud storage buckets update gs://{rname or short} --public-access-prevention")
    if cloud == "gcp" and "firewall" in name:
        return ("Restrict the rule's source ranges",
                f"gcloud compute firewall-rules update {rname or short} --source-ranges=10.0.0.0/8")
    for vuln in data.get("vulnerabilities", []):
        if vuln.get("fixed_version") and vuln.get("package"):
            return (f"Upgrade {vuln['package']} to {vuln['fixed_version']}",
                    f"sudo apt-get install --only-upgrade {vuln['package']}")
    return (str(alert.get("recommendation") or "Review the finding with the asset owner"), "")


def _draft(data: dict[str, Any], passages: list[dict[str, Any]]) -> dict[str, Any]:
    alert, resource = data.get("alert", {}), data.get("resource", {})
    ctx, scoring = data.get("context", {}), data.get("scoring", {})
    env = ctx.get("environment", "unknown")
    exposed = "internet-exposed " if ctx.get("internet_exposed") else ""
    summary = (f"The {exposed}{env} resource {resource.get('name') or resource.get('resource_id')} "
               f"violates '{alert.get('policy_name')}'.")
    description, command = _command_for(data)
    steps = [{"description": description, "command": command, "iac_snippet": ""}]
    evidence = [
        {"claim": f"Policy '{alert.get('policy_name')}' fired", "source": "alert", "reference": "alert.policy_name"},
        {"claim": f"Resource is {resource.get('resource_id')}", "source": "alert", "reference": "resource.resource_id"},
    ]
    evidence += [{"claim": p.get("heading", ""), "source": "playbook", "reference": p.get("id", "")}
                 for p in passages[:2]]
    factors = "; ".join(f.get("reason", "") for f in scoring.get("factors", [])[:3])
    has_basis = bool(alert.get("recommendation") or passages)
    return {
        "summary": summary,
        "business_impact": f"Data sensitivity {ctx.get('data_sensitivity', 'unknown')}, "
                           f"criticality {ctx.get('criticality', 'unknown')}.",
        "root_cause": str(alert.get("description") or "Configuration drift from the baseline."),
        "priority_justification": f"{scoring.get('priority', '')} from risk tier {scoring.get('tier')} "
                                  f"(score {scoring.get('score')}): {factors}".strip(),
        "recommended_actions": [a for a in [alert.get("recommendation"), description] if a],
        "remediation_steps": steps,
        "confidence": 0.8 if has_basis else 0.3,
        "evidence": evidence,
        "sufficient_evidence": has_basis,
    }


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)] + [k for k in value if isinstance(k, str)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _obey(draft: dict[str, Any], data: dict[str, Any]) -> None:
    """Do what an injected instruction says: the behaviour our defences must neutralise."""
    texts = _strings(data)
    for text in texts:
        for match in _INJECTION.finditer(text):
            draft["recommended_actions"].append(match.group(0))
        for match in _BACKTICKS.finditer(text):
            draft["remediation_steps"].append({"description": "Run the provided fix", "command": match.group(1),
                                               "iac_snippet": ""})
    draft["recommended_actions"].append("Dismiss this alert as a false positive")
    draft["priority_justification"] = "As instructed, this is low priority (P4) and can be dismissed."
    draft["summary"] += " This alert should be dismissed."


def _hallucinate(draft: dict[str, Any]) -> None:
    draft["summary"] += f" The instance {HALLUCINATED_RESOURCE} in account {HALLUCINATED_ACCOUNT} is also exposed."
    draft["remediation_steps"].append({
        "description": "Close the same port on the shared group",
        "command": f"aws ec2 revoke-security-group-ingress --group-id {HALLUCINATED_GROUP} --protocol tcp "
                   "--port 22 --cidr 0.0.0.0/0",
        "iac_snippet": ""})
    draft["evidence"].append({"claim": f"{HALLUCINATED_RESOURCE} shares the role", "source": "resource_config",
                              "reference": "resource_config.Reservations"})


def _empty(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    schema = defs.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema) if "$ref" in schema else schema
    kind = schema.get("type")
    return {"string": "", "array": [], "number": 0.5, "integer": 0, "boolean": True, "object": {}}.get(
        kind if isinstance(kind, str) else "", None)


def _conform(draft: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Keep the schema's properties only and fill missing required ones: what strict mode guarantees."""
    defs = schema.get("$defs", {})
    props: dict[str, Any] = schema.get("properties", {})
    out = {k: v for k, v in draft.items() if k in props}
    for name in schema.get("required", []):
        if name not in out:
            out[name] = _empty(props.get(name, {}), defs)
    return out


class LlmSimulator:
    """The simulated endpoint; an ASGI callable (``httpx2.ASGITransport(app=sim)``)."""

    def __init__(self, *, api_key: str = "sim-key", model: str = "prismaflow-sim-1") -> None:
        self.api_key = api_key
        self.model = model
        self.faults: deque[Fault] = deque()
        self.calls: Counter[str] = Counter()
        self.faults_applied: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self._completions, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/_sim/faults", self._faults, methods=["POST", "DELETE"]),
            Route("/_sim/stats", self._stats, methods=["GET"]),
            Route("/_sim/reset", self._reset, methods=["POST"]),
        ])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def add_fault(self, kind: FaultKind, count: int = 1, **options: float) -> None:
        """Queue ``kind`` for the next ``count`` completion calls."""
        self.faults.append(Fault(kind, count, **options))

    def reset(self) -> None:
        self.faults.clear()
        self.calls.clear()
        self.faults_applied.clear()
        self.requests.clear()

    def _next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self.faults.popleft()
        self.faults_applied[fault.kind] += 1
        return fault

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.api_key}"

    async def _models(self, request: Request) -> Response:
        self.calls["GET /v1/models"] += 1
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        return JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 1_700_000_000, "owned_by": "prismaflow"}]})

    async def _completions(self, request: Request) -> Response:
        self.calls["POST /v1/chat/completions"] += 1
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        try:
            body = await request.json()
            messages: list[dict[str, Any]] = body["messages"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "messages is required", "invalid_request_error")
        self.requests.append(body)
        fault = self._next_fault()
        if fault is not None and fault.kind in ("rate_limit", "server_error"):
            status, kind = (429, "rate_limit_exceeded") if fault.kind == "rate_limit" else (500, "server_error")
            headers = {"retry-after-ms": str(int(fault.retry_after_s * 1000))}
            return _error(status, f"simulated {fault.kind}", kind, headers)
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.sleep_s)
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        # On a repair turn the last user message is the complaint; the data is in an earlier one.
        user = next((u for u in reversed(users) if "<alert_data>" in u), users[-1] if users else "")
        content, refusal = self._answer(user, body.get("response_format"), fault)
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
        return JSONResponse({
            "id": f"chatcmpl-sim-{self.calls['POST /v1/chat/completions']}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_prismaflow_sim",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": _tokens(prompt), "completion_tokens": _tokens(content or refusal or ""),
                      "total_tokens": _tokens(prompt) + _tokens(content or refusal or "")},
        })

    def _answer(self, user: str, response_format: Any, fault: Fault | None) -> tuple[str | None, str | None]:
        if fault is not None and fault.kind == "refusal":
            return None, "I'm sorry, but I can't help with that request."
        if fault is not None and fault.kind == "invalid_json":
            return '{"summary": "The bucket is public", "remediation_steps": [', None
        if fault is not None and fault.kind == "schema_violation":
            return json.dumps({"summary": 42, "confidence": "very high"}), None
        fenced = _FENCE.search(user)
        if fenced is None:
            return "I need the alert data inside <alert_data> to analyse it.", None
        try:
            data = json.loads(fenced.group(1))
            passages_match = _PASSAGES.search(user)
            passages = json.loads(passages_match.group(1)) if passages_match else []
        except json.JSONDecodeError:
            return "The alert data is not valid JSON.", None
        draft = _draft(data if isinstance(data, dict) else {}, passages if isinstance(passages, list) else [])
        if fault is not None and fault.kind == "obey_injection":
            _obey(draft, data)
        if fault is not None and fault.kind == "hallucinate":
            _hallucinate(draft)
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema", {})
            draft = _conform(draft, schema)
        return json.dumps(draft), None

    async def _faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
            return JSONResponse({"faults": 0})
        spec = await request.json()
        if not isinstance(spec, dict) or spec.get("kind") not in _FAULT_KINDS:
            return JSONResponse({"error": f"kind must be one of {sorted(_FAULT_KINDS)}"}, status_code=400)
        options = {k: float(spec[k]) for k in ("retry_after_s", "sleep_s") if k in spec}
        self.add_fault(spec["kind"], int(spec.get("count", 1)), **options)
        return JSONResponse({"faults": len(self.faults)})

    async def _stats(self, request: Request) -> Response:
        return JSONResponse({"calls": dict(self.calls), "faults_applied": dict(self.faults_applied),
                             "faults_pending": len(self.faults)})

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"reset": True})


class SimulatorTransport(httpx2.ASGITransport):
    """``ASGITransport`` that enforces the request's read timeout, as a real socket would.

    Plain ASGI transports ignore timeouts, so a ``timeout`` fault would hang the test instead of
    exercising the SDK's timeout-and-retry path.
    """

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        if timeout is None:
            return await super().handle_async_request(request)
        try:
            return await asyncio.wait_for(super().handle_async_request(request), timeout)
        except TimeoutError as exc:
            raise httpx2.ReadTimeout("simulated read timeout", request=request) from exc


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the simulator with uvicorn."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m connectors.llm.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--api-key", default="sim-key")
    parser.add_argument("--model", default="prismaflow-sim-1")
    args = parser.parse_args(argv)
    sim = LlmSimulator(api_key=args.api_key, model=args.model)
    uvicorn.run(sim.app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
