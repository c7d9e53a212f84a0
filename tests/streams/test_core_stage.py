"""The fused core stage without a broker: the three kinds of record on its input topic, and a
state rebuilt from the changelog records it wrote equal to the state it holds."""

from __future__ import annotations

from collections import deque

import pytest

from processors.errors import InvalidRecordError
from processors.models import RawAlert, ScoredAlert
from processors.records import AssetLink
from streams.core_stage import RECORD_HEADER, RESOLVED_HEADER, CoreStage, is_link
from processors.score import DismissalHistory
from streams.publish import OutgoingRecord
from streams.scoring_state import ASSETS, DEDUPE, GRAPHS, HISTORY, MEMBERS
from streams.serde import AvroSerde
from streams.stage import InputMessage
from tests.processors import payloads as p
from tests.processors.graph_core import CONTEXT, POLICY
from tests.processors.test_graph import INSTANCE, host_vulns, instance_config, role, security_group

RAW, SCORED, CHANGELOG = "prisma.alerts.raw", "prisma.alerts.scored", "prisma.score.changelog"


class Harness:
    """One CoreStage owning every partition, fed as the worker feeds it (bytes in, bytes out);
    what it writes to its own input topic comes back to it in order."""

    def __init__(self) -> None:
        self.serde = AvroSerde()
        self.stage = CoreStage(CONTEXT, POLICY, self.serde)
        self.stage.state.restore(0, [])
        self.changelog: list[tuple[bytes, bytes | None]] = []
        self.scored: list[ScoredAlert] = []
        self.self_messages: list[OutgoingRecord] = []

    def feed(self, raw: RawAlert, key: str, headers: dict[str, bytes] | None = None) -> None:
        queue = deque([(key, self.serde.encode(raw, topic=RAW), headers or {})])
        while queue:
            k, value, hdrs = queue.popleft()
            message = InputMessage(RAW, 0, 0, k.encode(), value, hdrs, 0)
            outputs = [*self.stage.handle(self.stage.decode(message), message), *self.stage.state.take_writes()]
            for out in outputs:
                data = self.serde.encode(out.value, topic=out.topic) if out.value is not None else None
                assert out.key is not None
                if out.topic == RAW:
                    self.self_messages.append(out)
                    assert data is not None
                    queue.append((out.key, data, dict(out.headers)))
                elif out.topic == CHANGELOG:
                    assert out.partition == 0  # the changelog follows the input partition
                    self.changelog.append((out.key.encode(), data))
                else:
                    assert data is not None
                    self.scored.append(self.serde.decode(data, ScoredAlert, topic=SCORED))


def _key(raw: RawAlert) -> str:
    from processors.pipeline import raw_alert_key

    return raw_alert_key(raw)


def test_the_state_rebuilt_from_the_changelog_is_the_state_the_stage_held() -> None:
    h = Harness()
    for raw in (role(0), security_group(1), host_vulns(2), instance_config(3), role(4, status="resolved"),
                instance_config(5, groups=())):
        h.feed(raw, _key(raw))
    restored = CoreStage(CONTEXT, POLICY, h.serde)
    again = restored.state.restore(0, h.changelog)
    held = h.stage.state.partition(0)
    for namespace in (ASSETS, GRAPHS, DEDUPE):
        assert again.table(namespace) == held.table(namespace)
    assert again.groups(MEMBERS) == held.groups(MEMBERS)
    assert again.value(HISTORY, DismissalHistory()) == held.value(HISTORY, DismissalHistory())
    # the graph and the kept member alerts were written and read back
    assert held.table(GRAPHS) and held.groups(MEMBERS)
    kinds = {m.value.kind.value for m in h.self_messages if isinstance(m.value, AssetLink)}
    assert kinds == {"alias", "edge", "member"}
    assert all(m.headers == {RECORD_HEADER: b"AssetLink"} for m in h.self_messages if isinstance(m.value, AssetLink))


def test_a_host_record_is_re_keyed_to_its_instance_and_moved_onto_it_there() -> None:
    h = Harness()
    h.feed(instance_config(0), INSTANCE)
    audit = p.raw("compute_api", p.compute_api("runtime_audit", p.compute_audit(_id="a-9")))
    host = f"aws:{p.ACCOUNT}:us-east-1:host/{p.HOSTNAME}"
    h.feed(audit, host)
    rekeyed = [m for m in h.self_messages if isinstance(m.value, RawAlert)]
    assert [(m.key, m.headers) for m in rekeyed] == [(INSTANCE, {RESOLVED_HEADER: host.encode()})]
    mine = [s for s in h.scored if s.alert.alert_id == "cwpp:audit:a-9"]
    assert [s.alert.resource.asset_id for s in mine] == [INSTANCE]


def test_a_link_keyed_for_another_asset_and_a_forged_resolution_are_refused() -> None:
    h = Harness()
    link = AssetLink(kind="edge", target=INSTANCE, hub=INSTANCE, satellite="x", at=p.RECEIVED)  # type: ignore[arg-type]
    message = InputMessage(RAW, 0, 0, b"aws:1:us-east-1:instance/i-other", h.serde.encode(link, topic=RAW),
                           {RECORD_HEADER: b"AssetLink"}, 0)
    with pytest.raises(InvalidRecordError):
        h.stage.handle(h.stage.decode(message), message)
    bucket = p.raw("cspm_api", p.cspm_alert())
    with pytest.raises(InvalidRecordError):  # only a host name is ever moved onto an instance
        h.feed(bucket, INSTANCE, {RESOLVED_HEADER: f"aws:{p.ACCOUNT}:global:bucket/acme-public-assets".encode()})


def test_is_link_reads_the_record_header() -> None:
    assert is_link({RECORD_HEADER: b"AssetLink"}) and not is_link({}) and not is_link(None)
