"""Serve the simulator: ``python -m connectors.splunk.simulator --port 8288``.

Tokens come from ``--token GUID`` (repeatable) and ``--ack-token GUID`` (indexer acknowledgement
on); without any, the two defaults of :class:`SimConfig` are served.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from connectors.simkit import serve, simulator_parser
from connectors.splunk.simulator.app import HecSimulator
from connectors.splunk.simulator.config import SimConfig, SimToken


def build(argv: Sequence[str] | None = None) -> tuple[HecSimulator, argparse.Namespace]:
    """Parse ``argv`` and build the simulator (no serving); used by ``main`` and tests."""
    parser = simulator_parser("python -m connectors.splunk.simulator", 8288)
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
    serve(sim.app, args, f"hec simulator tokens={len(sim.config.tokens)}")


if __name__ == "__main__":
    main()
