"""Serve the simulator: ``python -m connectors.jira.simulator --port 8281``.

Credentials: ``--user EMAIL:TOKEN`` (basic, repeatable; default ``bot@example.com:sim-api-token``
and the read-only ``viewer@example.com:sim-viewer-token``) and ``--pat TOKEN=EMAIL`` (bearer).
``--datacenter`` serves only ``/rest/api/2`` with wiki-markup strings, like Jira Data Center.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from connectors.jira.simulator.core import JiraSimulator
from connectors.jira.simulator.runtime import SimConfig
from connectors.simkit import serve, simulator_parser


def build(argv: Sequence[str] | None = None) -> tuple[JiraSimulator, argparse.Namespace]:
    """Parse ``argv`` and build the simulator (no serving); used by ``main`` and tests."""
    parser = simulator_parser("python -m connectors.jira.simulator", 8281)
    parser.add_argument("--user", action="append", default=[], metavar="EMAIL:TOKEN")
    parser.add_argument("--pat", action="append", default=[], metavar="TOKEN=EMAIL")
    parser.add_argument("--project", action="append", default=[], metavar="KEY")
    parser.add_argument("--datacenter", action="store_true")
    parser.add_argument("--index-property", action="append", default=[], metavar="KEY",
                        help="entity property key JQL may search (default: none, as on Cloud)")
    parser.add_argument("--no-rate-limits", action="store_true")
    args = parser.parse_args(argv)
    config = SimConfig(
        flavour="datacenter" if args.datacenter else "cloud",
        base_url=f"http://{args.host}:{args.port}",
        rate_limits=not args.no_rate_limits,
        indexed_properties=frozenset(args.index_property),
    )
    if args.user:
        config.users = dict(u.split(":", 1) for u in args.user)
    if args.pat:
        config.bearer_tokens = dict(p.split("=", 1) for p in args.pat)
    if args.project:
        config.projects = {p.upper(): p.upper() for p in args.project}
    return JiraSimulator(config=config), args


def main(argv: Sequence[str] | None = None) -> None:
    sim, args = build(argv)
    serve(sim.app, args, f"jira simulator flavour={sim.config.flavour} "
                         f"projects={','.join(sim.config.projects)}")


if __name__ == "__main__":
    main()
