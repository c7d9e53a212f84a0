"""The faust-streaming passthrough of ``prismaflow bench``: one agent copying raw bytes between topics.

Run by :mod:`streams.devtools.bench` as ``python -m streams.devtools.bench_faust --bootstrap ... --source ... --dest ...
--count N``; it prints one JSON line (``messages``, ``elapsed_s``, ``msgs_per_s``, from the first
message read to the producer flushed after the ``N``-th) and then keeps running until the bench
stops it (SIGTERM), so faust's own shutdown is not timed. It exists to put a measured number on the
customer's chosen framework next to our confluent-kafka workers: nothing in the pipeline uses it.

A minimal faust App: in-memory store, no web server, raw (bytes) key and value serializers, one
agent with the default concurrency that ``await``s each ``send``, the style faust documents.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    import faust

    parser = argparse.ArgumentParser(prog="python -m streams.devtools.bench_faust")
    for option in ("--bootstrap", "--source", "--dest", "--app-id", "--datadir"):
        parser.add_argument(option, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    app = faust.App(
        args.app_id, broker=f"kafka://{args.bootstrap}", store="memory://", datadir=args.datadir,
        web_enabled=False, consumer_auto_offset_reset="earliest", key_serializer="raw", value_serializer="raw",
        producer_acks=-1, topic_partitions=6,
    )
    source = app.topic(args.source, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    dest = app.topic(args.dest, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    state: dict[str, Any] = {"count": 0, "first": None}

    async def passthrough(stream: Any) -> AsyncIterator[None]:
        async for event in stream.events():
            if state["first"] is None:
                state["first"] = time.perf_counter()
            await dest.send(key=event.key, value=event.value)
            state["count"] += 1
            if state["count"] == args.count:
                await app.producer.flush()
                elapsed = time.perf_counter() - state["first"]
                print(json.dumps({"messages": args.count, "elapsed_s": round(elapsed, 3),
                                  "msgs_per_s": round(args.count / elapsed, 1)}), flush=True)
            yield None

    app.agent(source, name="bench-passthrough")(passthrough)
    logging.getLogger("faust").setLevel(logging.WARNING)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
