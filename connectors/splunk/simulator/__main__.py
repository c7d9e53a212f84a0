"""Serve the simulator: ``python -m connectors.splunk.simulator --port 8288``.

Tokens come from ``--token GUID`` (repeatable) and ``--ack-token GUID`` (indexer acknowledgement
on); without any, the two defaults of :class:`SimConfig` are served.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from connectors.splunk.simulator.app import HecSimulator, SimConfig, SimToken

logger = logging.getLogger(__name__)


def build(argv: Sequence[str] | None = None) -> tuple[HecSimulator, argparse.Namespace]:
    """Parse ``argv`` and build the simulator (no serving); used by ``main`` and tests."""
    parser = argparse.ArgumentParser(prog="python -m connectors.splunk.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8288)
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--ack-token", action="append", default=[])
    parser.add_argument("--max-content-length", type=int, default=1_000_000)
    parser.add_argument("--ack-after-polls", type=int, default=1)
    args = parser.parse_args(argv)
    config = SimConfig(max_content_length=args.max_content_length,
                       ack_after_polls=args.ack_after_polls)
    if args.token or args.ack_token:
        config.tokens = {t: SimToken() for t in args.token}
        config.tokens.update({t: SimToken(use_ack=True) for t in args.ack_token})
    return HecSimulator(config), args


def main(argv: Sequence[str] | None = None) -> None:
    sim, args = build(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logger.info("hec simulator host=%s port=%d tokens=%d", args.host, args.port,
                len(sim.config.tokens))
    uvicorn.run(sim.app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
