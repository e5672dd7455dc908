"""Fixtures for the Celery tests: real brokers, a real database, and a deployment of processes.

Each test gets queues of its own (``airlock-test-<random>``), deleted afterwards, so tests do not
see each other's messages on the shared Redis and RabbitMQ; and a PostgreSQL schema of its own
(the ``postgres_url`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import TYPE_CHECKING

import kombu
import pytest
import redis
from tests.conftest import require_service
from tests.integration.celery.celery_harness import Deployment

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

REDIS_URL = os.environ.get("AIRLOCK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("AIRLOCK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _rabbitmq_up() -> bool:
    try:
        with kombu.Connection(RABBITMQ_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception:
        return False
    return True


@pytest.fixture
def queue() -> str:
    """A Celery queue name no other test uses."""
    return f"airlock-test-{uuid.uuid4().hex[:10]}"


def _delete_redis_queue(*queues: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*queues, *(f"{q}\x06\x16{p}" for q in queues for p in range(10)))
    client.close()


def _delete_rabbitmq_queues(*queues: str) -> None:
    with kombu.Connection(RABBITMQ_URL) as connection:
        for name in queues:
            with contextlib.suppress(Exception):
                kombu.Queue(name, channel=connection.channel()).delete()


BROKERS = {
    "redis": (REDIS_URL, _redis_up, _delete_redis_queue),
    "rabbitmq": (RABBITMQ_URL, _rabbitmq_up, _delete_rabbitmq_queues),
}


@pytest.fixture
def deployment(
    tmp_path: Path, queue: str, postgres_url: str
) -> Iterator[Callable[[str], Deployment]]:
    """Make a deployment on ``redis`` or ``rabbitmq`` and PostgreSQL; all is stopped afterwards."""
    made: list[Deployment] = []
    cleanups: list[Callable[[], None]] = []

    def make(broker: str) -> Deployment:
        url, available, delete = BROKERS[broker]
        require_service(available(), f"{broker} at {url}")
        cleanups.append(lambda: delete(queue, f"{queue}-etl"))
        home = tmp_path / "airlock-home"
        home.mkdir(parents=True, exist_ok=True)
        deployed = Deployment(home, postgres_url, url, queue, dags_folder=tmp_path / "dags")
        made.append(deployed)
        return deployed

    yield make
    for deployed in made:
        deployed.close()
    for cleanup in cleanups:
        cleanup()
