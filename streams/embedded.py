"""Running pieces of Prismaflow inside one process: for the demo and for tests.

Production runs each worker and server as its own process (``prismaflow run``, ``prismaflow
webhook``); the demo shows the same pieces side by side in threads of one process.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from processors.errors import PrismaflowError
from streams.compose import build_stage_worker
from streams.config import PrismaflowSettings
from streams.serde import AvroSerde

__all__ = ["InThread", "ThreadedWorker", "ThreadedSink", "ServedApp", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class InThread:
    """Runs ``runnable.run()`` in a daemon thread until :meth:`stop` calls ``runnable.stop()``."""

    def __init__(self, runnable: Any, name: str) -> None:
        self.runnable = runnable
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.runnable.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by stop()
            self.error = exc

    def stop(self) -> None:
        """Stop it and re-raise whatever ended it early."""
        self.runnable.stop()
        self.thread.join(30)
        if self.error is not None:
            raise self.error


class ThreadedWorker(InThread):
    """A stream stage worker (``prismaflow run <stage>``) in a thread."""

    def __init__(self, stage: str, settings: PrismaflowSettings, serde: AvroSerde) -> None:
        self.worker = build_stage_worker(stage, settings, serde)
        super().__init__(self.worker, f"worker-{stage}")


class ThreadedSink(InThread):
    """A sink worker (its own asyncio loop) in a thread."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        super().__init__(worker, f"sink-{worker.sink.name}")


class ServedApp:
    """An ASGI app served by uvicorn on 127.0.0.1:<port> from a background thread."""

    def __init__(self, app: Any, port: int | None = None, *, timeout_s: float = 15.0) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"http-{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise PrismaflowError(f"could not serve on {self.url}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

