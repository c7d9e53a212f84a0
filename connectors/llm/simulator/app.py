"""The LLM simulator's ASGI app: ``/v1/chat/completions``, ``/v1/models`` and ``/_sim``."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.llm.simulator.drafting import answer, tokens
from connectors.simkit import Fault, FaultRules, Simulator, wait_out

__all__ = ["FAULT_RULES", "FaultKind", "LlmSimulator"]

FaultKind = Literal[
    "rate_limit", "server_error", "timeout", "invalid_json", "schema_violation", "refusal",
    "hallucinate", "obey_injection",
]

FAULT_RULES = FaultRules(
    kinds=frozenset(FaultKind.__args__),  # type: ignore[attr-defined]
    fields=("kind", "count", "retry_after_s", "sleep_s"),
    renames={"sleep_s": "delay_s"},
    defaults={"retry_after_s": 0.005, "delay_s": 30.0},
    strict=False,
)
"""Faults for the next ``count`` completion calls, in order; ``timeout`` sleeps ``sleep_s``,
``rate_limit`` and ``server_error`` carry ``retry-after-ms`` from ``retry_after_s``."""

_COMPLETIONS = "POST /v1/chat/completions"


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return JSONResponse(body, status_code=status, headers=headers)


class LlmSimulator(Simulator):
    """The simulated endpoint; an ASGI callable (``httpx2.ASGITransport(app=sim)``)."""

    fault_rules = FAULT_RULES
    fault_listing = "count"

    def __init__(self, *, api_key: str = "sim-key", model: str = "prismaflow-sim-1") -> None:
        super().__init__(time.monotonic)
        self.api_key = api_key
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.mount([*self.counted("POST", "/v1/chat/completions", self._completions),
                    *self.counted("GET", "/v1/models", self._models)])

    @property
    def calls(self) -> Counter[str]:
        """Calls per route (``Counter``: zero for a route never called)."""
        return self.stats.call_counts()

    def add_fault(self, kind: FaultKind, count: int = 1, **options: float) -> None:
        """Queue ``kind`` for the next ``count`` completion calls (``retry_after_s``, ``sleep_s``)."""
        self.fault_book.add(self.fault_rules.parse({"kind": kind, "count": count, **options}))

    def reset(self) -> None:
        self.fault_book.clear()
        self.fault_book.applied.clear()
        self.stats.reset()
        self.requests.clear()

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.api_key}"

    async def _models(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        return JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 1_700_000_000, "owned_by": "prismaflow"}]})

    @staticmethod
    def _fault_error(fault: Fault) -> Response:
        status, kind = (429, "rate_limit_exceeded") if fault.kind == "rate_limit" else (500, "server_error")
        headers = {"retry-after-ms": str(int((fault.retry_after_s or 0) * 1000))}
        return _error(status, f"simulated {fault.kind}", kind, headers)

    async def _completions(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        try:
            body = await request.json()
            messages: list[dict[str, Any]] = body["messages"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "messages is required", "invalid_request_error")
        self.requests.append(body)
        fault = self.fault_book.take("POST", "/v1/chat/completions")
        if fault is not None and fault.kind in ("rate_limit", "server_error"):
            return self._fault_error(fault)
        if fault is not None and fault.kind == "timeout":
            await wait_out(fault)
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        # On a repair turn the last user message is the complaint; the data is in an earlier one.
        user = next((u for u in reversed(users) if "<alert_data>" in u), users[-1] if users else "")
        content, refusal = answer(user, body.get("response_format"), fault.kind if fault else None)
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
        completion = tokens(content or refusal or "")
        return JSONResponse({
            "id": f"chatcmpl-sim-{self.stats.calls(_COMPLETIONS)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_prismaflow_sim",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": tokens(prompt), "completion_tokens": completion,
                      "total_tokens": tokens(prompt) + completion},
        })

    # -- /_sim -------------------------------------------------------------------------------------

    def stats_json(self) -> dict[str, Any]:
        return {"calls": dict(self.stats.call_counts()), "faults_applied": dict(self.fault_book.applied),
                "faults_pending": len(self.fault_book.pending)}

    def extra_admin_routes(self) -> list[Route]:
        async def reset(request: Request) -> Response:
            self.reset()
            return JSONResponse({"reset": True})

        return [Route("/_sim/reset", reset, methods=["POST"])]
