"""``prismaflow bench``: throughput and latency figures of the stream core on a real broker.

A benchmark, not a test: it passes or fails nothing, it prints one JSON document (and writes it to
``$PRISMAFLOW_HOME/bench/latest.json``). Progress goes to stderr so stdout stays clean JSON.

What one run does, all on the same broker (``KAFKA_BOOTSTRAP_SERVERS`` when set, else a local broker
on free ports in a temporary folder, stopped at the end), under a fresh topic prefix ``bench-<id>.``:

0. **Warm-up.** ``--warmup-alerts`` alerts through a throw-away pipeline, so the broker's JVM has
   compiled its hot paths before anything is measured.
1. **Throughput.** Loads ``--alerts`` simulator alerts (repeats, status changes, noise) into the raw
   topic, keyed by asset as the sources key them, starts the workers as subprocesses (``--topology
   fused``: ``prismaflow run core``; ``split``: ``run score`` then ``run normalise``) and follows
   their committed consumer-group offsets: sustained alerts/s is the raw alerts divided by the time
   from the first committed batch of the first stage to the last committed batch of the last.
2. **Latency.** With the workers running and idle, a paced producer offers ``--rate`` fresh alerts
   per second (``received_at`` stamped at produce time) for ``--latency-seconds``; a ``read_committed``
   consumer on the scored topic takes receive time minus ``alert.ingested_at`` per scored alert.
3. **Transport limit.** The same raw messages copied, bytes untouched, by a plain confluent-kafka
   consume-and-produce loop, by the same loop with one transaction per batch (what our exactly-once
   workers pay), and by a faust-streaming agent (:mod:`streams.devtools.bench_faust`), each a subprocess.

Peak RSS is the kernel's high-water mark (``VmHWM``) of each process, broker included. A failure of
the broker or a worker raises :class:`~processors.errors.BrokerError` with the tail of its log.
"""

from __future__ import annotations

from streams.devtools.bench.cli import add_arguments, main, register
from streams.devtools.bench.constants import GOALS
from streams.devtools.bench.run import run_bench

__all__ = ["GOALS", "add_arguments", "main", "register", "run_bench"]
