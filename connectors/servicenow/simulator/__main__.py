"""Serve the simulator: ``python -m connectors.servicenow.simulator --port 8282``.

Users come from ``--user NAME:PASSWORD`` (repeatable; default ``prismaflow:sim-password`` plus the
read-only ``auditor:sim-password``); ``--rate-limit N`` turns on an hourly limit per user.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from connectors.servicenow.simulator.app import ServiceNowSimulator
from connectors.servicenow.simulator.config import SimConfig, SimUser
from connectors.simkit import serve, simulator_parser


def build(argv: Sequence[str] | None = None) -> tuple[ServiceNowSimulator, argparse.Namespace]:
    """Parse ``argv`` and build the simulator (no serving); used by ``main`` and tests."""
    parser = simulator_parser("python -m connectors.servicenow.simulator", 8282)
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
    serve(sim.app, args, "servicenow simulator")


if __name__ == "__main__":
    main()
