"""An in-process transport for the ``openai`` SDK that keeps its timeouts meaningful."""

from __future__ import annotations

import asyncio

import httpx2

__all__ = ["SimulatorTransport"]


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
