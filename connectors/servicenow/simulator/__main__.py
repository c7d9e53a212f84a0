"""Serve the simulator: ``python -m connectors.servicenow.simulator --port 8282``.

Users come from ``--user NAME:PASSWORD`` (repeatable; default ``prismaflow:sim-password`` plus the
read-only ``auditor:sim-password``); ``--rate-limit N`` turns on an hourly limit per user.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from connectors.servicenow.simulator.app import ServiceNowSimulator, SimConfig, SimUser

logger = logging.getLogger(__name__)


def build(argv: Sequence[str] | None = None) -> tuple[ServiceNowSimulator, argparse.Namespace]:
    """Parse ``argv`` and build the simulator (no serving); used by ``main`` and tests."""
    parser = argparse.ArgumentParser(prog="python -m connectors.servicenow.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8282)
    parser.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD")
    parser.add_argument("--rate-limit", type=int, default=None, metavar="PER_HOUR")
    parser.add_argument("--no-sir", action="store_true", help="sn_si_incident not installed")
    args = parser.parse_args(argv)
    config = SimConfig(rate_limit_per_hour=args.rate_limit,
                       instance_url=f"http://{args.host}:{args.port}")
    if args.user:
        config.users = {n: SimUser(p) for n, p in (u.split(":", 1) for u in args.user)}
        config.users.setdefault("auditor", SimUser("sim-password", writable=False))
    if args.no_sir:
        config.installed_tables = config.installed_tables - {"sn_si_incident"}
    return ServiceNowSimulator(config), args


def main(argv: Sequence[str] | None = None) -> None:
    sim, args = build(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logger.info("servicenow simulator host=%s port=%d", args.host, args.port)
    uvicorn.run(sim.app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
