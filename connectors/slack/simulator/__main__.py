"""Serve the simulator: ``python -m connectors.slack.simulator --port 8282``."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.simkit import serve, simulator_parser
from connectors.slack.simulator.app import ChatWebhookSimulator


def main(argv: Sequence[str] | None = None) -> None:
    """Print the Slack hook and Teams workflow URLs, then serve until interrupted."""
    parser = simulator_parser("python -m connectors.slack.simulator", 8282,
                              "A local Slack incoming-webhook and Teams Workflows endpoint.")
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args(argv)
    sim = ChatWebhookSimulator(rate_per_s=None if args.no_rate_limit else 1.0)
    base = f"http://{args.host}:{args.port}"
    print(f"slack webhook: {base}/services/{sim.slack_path}")
    print(f"teams workflow: {base}{sim.teams_path}")
    serve(sim, args, "chat webhook simulator", log_level="warning")


if __name__ == "__main__":
    main()
