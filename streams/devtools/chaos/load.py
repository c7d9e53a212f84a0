"""Steady webhook traffic during the fault campaign, sent the way Prisma Cloud sends it.

:class:`WebhookLoad` posts one CSPM notification at a time at a steady rate, each a new alert (a
unique ``alertId`` on a copy of a simulator estate alert), and behaves like Prisma Cloud's
integration: a 2xx means delivered; anything else (503 during an outage, a refused connection
while the receiver restarts) is retried after ``Retry-After`` until it is delivered. It keeps, per
alert, when it was first posted and whether it was acknowledged, and the slowest answer seen.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from connectors.prisma.simulator.estate import generate_estate
from connectors.prisma.simulator.webhooks import cspm_notification

__all__ = ["WebhookLoad", "Posted"]


@dataclass
class Posted:
    alert_id: str
    first_posted: float
    acknowledged_at: float | None = None
    attempts: int = 0
    rejected_with: int | None = None


@dataclass
class WebhookLoad:
    """Posts ``rate`` new alerts per second to ``url`` until :meth:`stop`."""

    url: str
    token: str
    rate: float = 10.0
    seed: int = 5
    posted: dict[str, Posted] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    slowest_answer_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        estate = generate_estate(self.seed, 200)
        self._templates = [cspm_notification(a) for a in estate.alerts.values() if a["status"] == "open"]
        self._next = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def extra(self, notification: dict[str, Any]) -> int:
        """Post one extra notification (a fault's own payload) once; the HTTP status."""
        body = json.dumps([notification])  # ASCII: lone surrogates travel as JSON escapes, as on the wire
        with httpx.Client(timeout=30) as client:
            answer = client.post(self.url, content=body, headers={"Authorization": self.token,
                                                                 "Content-Type": "application/json"})
        return answer.status_code

    def _notification(self) -> tuple[str, dict[str, Any]]:
        template = self._templates[self._next % len(self._templates)]
        self._next += 1
        alert_id = f"P-chaos-{self._next:06d}"
        body = copy.deepcopy(template)
        body["alertId"] = alert_id
        return alert_id, body

    def _run(self) -> None:
        interval = 1.0 / self.rate
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                alert_id, body = self._notification()
                with self._lock:
                    self.posted[alert_id] = Posted(alert_id, time.time())
                self._deliver(client, alert_id, body)
                self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def _deliver(self, client: httpx.Client, alert_id: str, body: dict[str, Any]) -> None:
        record = self.posted[alert_id]
        while not self._stop.is_set():
            record.attempts += 1
            asked = time.monotonic()
            retry_after = 1.0
            try:
                answer = client.post(self.url, json=[body], headers={"Authorization": self.token})
                status = answer.status_code
                retry_after = float(answer.headers.get("retry-after", "1") or 1)
            except httpx.HTTPError:
                status = 0  # the receiver is restarting: no answer at all
            took = time.monotonic() - asked
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status:
                    self.slowest_answer_s = max(self.slowest_answer_s, took)
            if 200 <= status < 300:
                record.acknowledged_at = time.time()
                return
            if 400 <= status < 500:
                record.rejected_with = status  # a permanent refusal: Prisma Cloud does not retry it
                return
            self._stop.wait(min(retry_after, 5.0))

    def acknowledged(self) -> list[Posted]:
        with self._lock:
            return [p for p in self.posted.values() if p.acknowledged_at is not None]
