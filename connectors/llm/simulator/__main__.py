"""Serve the simulator: ``python -m connectors.llm.simulator --port 8199``."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.llm.simulator.app import LlmSimulator
from connectors.simkit import serve, simulator_parser


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the simulator with uvicorn until interrupted."""
    parser = simulator_parser("python -m connectors.llm.simulator", 8199)
    parser.add_argument("--api-key", default="sim-key")
    parser.add_argument("--model", default="prismaflow-sim-1")
    args = parser.parse_args(argv)
    sim = LlmSimulator(api_key=args.api_key, model=args.model)
    serve(sim.app, args, f"llm simulator model={sim.model}")


if __name__ == "__main__":
    main()
