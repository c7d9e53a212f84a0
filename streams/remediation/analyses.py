"""The analysis of an alert, when one is on ``prisma.analyses``: what the request stage hands the planner.

:class:`AnalysisLookup` folds the analyses topic into the latest analysis per alert id, reading it to
its end (committed records) when asked for an alert it has not seen, at most once per
``refresh_interval_s`` — the analysis stage usually writes after scoring, so a fresh alert often has
none yet, and the planner (which builds from Prisma's structured fields) is preferred anyway. Memory is
bounded: the oldest entries beyond ``max_entries`` are dropped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from processors.records import Analysis
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topic_reader import read_to_end

__all__ = ["AnalysisLookup"]


class AnalysisLookup:
    """``lookup(alert_id)`` → the latest analysis of that alert, or None (module docstring)."""

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde, topic: str, *, refresh_interval_s: float = 30.0,
                 max_entries: int = 50_000, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.kafka, self.serde, self.topic = kafka, serde, topic
        self.refresh_interval_s, self.max_entries, self.monotonic = refresh_interval_s, max_entries, monotonic
        self._latest: OrderedDict[str, Analysis] = OrderedDict()
        self._read_at: float | None = None

    def __call__(self, alert_id: str) -> Analysis | None:
        if alert_id not in self._latest and (
                self._read_at is None or self.monotonic() - self._read_at >= self.refresh_interval_s):
            self._refresh()
        return self._latest.get(alert_id)

    def _refresh(self) -> None:
        for message in read_to_end(self.kafka, self.topic, purpose="remediation-analyses"):
            if message.value() is None:
                continue
            analysis = self.serde.decode(message.value(), Analysis, topic=self.topic)
            self._latest[analysis.alert_id] = analysis
            self._latest.move_to_end(analysis.alert_id)
        while len(self._latest) > self.max_entries:
            self._latest.popitem(last=False)
        self._read_at = self.monotonic()
