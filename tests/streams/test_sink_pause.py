"""How long a sink worker pauses on back-pressure: the target's own retry-after, else backoff."""

from __future__ import annotations

from connectors.ports import TargetUnavailableError
from streams.sink import SinkOptions, pause_before_retry

OPTIONS = SinkOptions(group_id="g", pause_base_s=1.0, pause_max_s=30.0)


def test_the_worker_waits_what_the_target_asked_for_capped_at_the_longest_pause() -> None:
    assert pause_before_retry(OPTIONS, 0, TargetUnavailableError("429", retry_after_s=12.0)) == 12.0
    assert pause_before_retry(OPTIONS, 5, TargetUnavailableError("429", retry_after_s=600.0)) == 30.0
    assert pause_before_retry(OPTIONS, 0, TargetUnavailableError("429", retry_after_s=-1.0)) == 0.0


def test_without_a_hint_the_pause_is_full_jitter_exponential_backoff_up_to_the_cap() -> None:
    signal = TargetUnavailableError("503")
    assert [pause_before_retry(OPTIONS, attempt, signal, rng=lambda: 1.0) for attempt in range(7)] == [
        1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert pause_before_retry(OPTIONS, 3, signal, rng=lambda: 0.25) == 2.0
