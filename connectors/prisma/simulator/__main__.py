"""Serve the simulator: ``python -m connectors.prisma.simulator --port 8181 --seed 7 --alerts 500``.

Credentials come from ``--user KEY:SECRET`` (repeatable; default ``sim-access-key:sim-secret-key``).
With ``--tick-s N`` (default 60) alert statuses churn every N wall-clock seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from starlette.applications import Starlette

from connectors.prisma.simulator.core import PrismaCloudSimulator
from connectors.prisma.simulator.runtime import SimConfig
from connectors.simkit import serve, simulator_parser

logger = logging.getLogger(__name__)


def build(argv: Sequence[str] | None = None) -> tuple[PrismaCloudSimulator, argparse.Namespace]:
    """Parse ``argv`` and build the simulator (no serving); used by ``main`` and tests."""
    parser = simulator_parser("python -m connectors.prisma.simulator", 8181)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--tick-s", type=float, default=60.0)
    parser.add_argument("--user", action="append", default=[], metavar="KEY:SECRET")
    parser.add_argument("--no-rate-limits", action="store_true")
    args = parser.parse_args(argv)
    users = dict(u.split(":", 1) for u in args.user) or {"sim-access-key": "sim-secret-key"}
    config = SimConfig(users=users, tick_s=args.tick_s, rate_limits=not args.no_rate_limits)
    return PrismaCloudSimulator(config=config, seed=args.seed, n_alerts=args.alerts), args


def main(argv: Sequence[str] | None = None) -> None:
    sim, args = build(argv)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def churn() -> None:
            while True:
                await asyncio.sleep(args.tick_s)
                changed = sim.churn()  # the wall clock moved by itself
                logger.info("sim tick changed=%d", len(changed))

        task = asyncio.create_task(churn())
        try:
            yield
        finally:
            task.cancel()

    sim.app.router.lifespan_context = lifespan
    serve(sim.app, args, f"prisma simulator alerts={len(sim.alerts)} seed={args.seed}")


if __name__ == "__main__":
    main()
