"""The execution tests use the AWS tests' moto server and a Prisma Cloud simulator on the simulated clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.prisma.simulator import PrismaCloudSimulator, SimClock, generate_estate
from tests.connectors.aws.conftest import aws, moto_url, name  # noqa: F401 - fixtures shared with the AWS tests


@pytest.fixture
def make_sim(clock: SimClock) -> Callable[[], PrismaCloudSimulator]:
    def make() -> PrismaCloudSimulator:
        return PrismaCloudSimulator(generate_estate(7, 200, now_ms=clock.now_ms()), clock=clock)
    return make
