"""Serving a simulator over HTTP: the ``python -m connectors.<system>.simulator`` boilerplate."""

from __future__ import annotations

import argparse
import logging

import uvicorn
from starlette.types import ASGIApp

__all__ = ["serve", "simulator_parser"]

logger = logging.getLogger(__name__)


def simulator_parser(prog: str, port: int, description: str | None = None) -> argparse.ArgumentParser:
    """An argument parser with the ``--host`` and ``--port`` every simulator takes."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


def serve(app: ASGIApp, args: argparse.Namespace, banner: str, *, log_level: str = "info") -> None:
    """Log ``banner`` and serve ``app`` on ``args.host:args.port`` until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logger.info("%s host=%s port=%d", banner, args.host, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level=log_level)
