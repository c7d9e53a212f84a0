"""Fixtures of the stream-layer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.embedded import ServedApp


@pytest.fixture
def served() -> Iterator[list[ServedApp]]:
    """ASGI apps a test serves over HTTP (append them); stopped when the test ends."""
    apps: list[ServedApp] = []
    yield apps
    for app in apps:
        app.stop()
