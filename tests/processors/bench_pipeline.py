"""Micro-benchmark: normalise + enrich + process_for_asset over synthetic alerts, one core.

Run: ``python -m tests.processors.bench_pipeline [N]`` (default 10,000). Prints alerts/s for the
stateless part, the stateful part and both together. The mix: CSPM API items (60 %), CSPM
webhook items (10 %), Compute host scans with 6 CVEs (15 %), runtime audits (15 %), spread over
2,000 assets, with a quarter of the records being unchanged re-polls.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import timedelta

from connectors.feeds.store import load_default_feeds
from processors.enrich import EnrichmentContext
from processors.models import RawAlert
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from streams.static_inputs import EXAMPLE_OWNER_MAP_PATH, load_owner_map
from streams.static_inputs import load_scoring_policy
from tests.processors import payloads as p

CVES = ["CVE-2023-38545", "CVE-2023-44487", "CVE-2019-25013", "CVE-2021-44228", "CVE-2022-3602", "CVE-2023-0286"]


def synthetic(n: int, seed: int = 7) -> list[RawAlert]:
    rng = random.Random(seed)
    out: list[RawAlert] = []
    for i in range(n):
        if out and rng.random() < 0.25:
            out.append(out[rng.randrange(len(out))])  # a re-poll of an earlier record
            continue
        asset = rng.randrange(2000)
        inst = f"i-{asset:017x}"
        r = rng.random()
        if r < 0.6:
            payload = p.cspm_instance_alert(alert_id=f"P-{i}", resource_id=inst, last_seen=p.T0_MS + i,
                                            severity=rng.choice(["low", "medium", "high", "critical"]))
            out.append(p.raw("cspm_api", payload, alert_id=f"P-{i}"))
        elif r < 0.7:
            out.append(p.raw("cspm_webhook", p.cspm_webhook_item(alertId=f"P-{i}", resourceId=f"bucket-{asset}"), alert_id=f"P-{i}"))
        elif r < 0.85:
            vulns = [p.compute_vuln(c, "high", 7.5, f"pkg{j}") for j, c in enumerate(CVES)]
            rec = p.compute_host_scan(vulns, instance=inst, hostname=f"host-{asset}")
            out.append(p.raw("compute_api", p.compute_api("host_scan", rec), alert_id=f"h{asset}"))
        else:
            rec = p.compute_audit(_id=f"audit-{i}", hostname=f"host-{asset}", resourceID=inst)
            out.append(p.raw("compute_api", p.compute_api("runtime_audit", rec), alert_id=f"a{i}"))
    return out


def main(n: int = 10_000) -> None:
    raws = synthetic(n)
    ctx = EnrichmentContext(feeds=load_default_feeds(), owners=load_owner_map(EXAMPLE_OWNER_MAP_PATH))
    policy = load_scoring_policy()
    t0 = time.perf_counter()
    alerts = [normalise_and_enrich(r, ctx) for r in raws]
    t1 = time.perf_counter()
    dedupe: dict[str, object] = {}
    assets: dict[str, object] = {}
    history = StageStates().history
    emitted = 0
    for a in alerts:
        now = a.ingested_at + timedelta(seconds=0)
        st = StageStates(dedupe=dedupe.get(a.alert_id), asset=assets.get(a.resource.asset_id), history=history)  # type: ignore[arg-type]
        scored, st = process_for_asset(st, a, policy, now)
        dedupe[a.alert_id] = st.dedupe
        assets[a.resource.asset_id] = st.asset
        history = st.history
        emitted += scored is not None
    t2 = time.perf_counter()
    size = sum(len(r.payload_json) for r in raws) / len(raws)
    print(f"records={n} avg_payload_bytes={size:.0f} emitted={emitted}")
    print(f"normalise+enrich: {n / (t1 - t0):,.0f} alerts/s")
    print(f"dedupe+correlate+score: {n / (t2 - t1):,.0f} alerts/s")
    print(f"total: {n / (t2 - t0):,.0f} alerts/s on one core")
    _ = json


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
