"""The Celery executor: the scheduler publishes each queued try as a Celery task.

``CeleryExecutor.send`` encodes the ``ExecuteTask`` workload as msgspec JSON and publishes it to
the Celery queue named by the task's ``queue=``; any ``airlock celery worker`` consuming that
queue picks it up and runs it through a supervisor (``celery_worker``). Publishing returns as
soon as the broker has the message; nothing comes back through Celery, since every state change
of the try travels through the Execution API.

The workload carries the try's workload token, which can only start that one try. The message's
``argsrepr`` (what Celery's logs and monitoring tools show of the arguments) is the workload's
``repr``, which names the try and never the token.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import msgspec

from airlock.execution.workload import ExecuteTask
from airlock.executors.celery_app import DEFAULT_QUEUE, TASK_NAME, create_celery_app

if TYPE_CHECKING:
    from celery import Celery

    from airlock.settings import Settings

_decoder = msgspec.json.Decoder(ExecuteTask)


def encode_workload(workload: ExecuteTask) -> str:
    """The workload as the JSON text a Celery message carries."""
    return msgspec.json.encode(workload).decode()


def decode_workload(payload: str) -> ExecuteTask:
    """Read a workload back from a Celery message's argument.

    Raises:
        msgspec.DecodeError: ``payload`` is not an airlock workload.
    """
    return _decoder.decode(payload)


class CeleryExecutor:
    """Delivers workloads to Celery workers through the broker (Redis or RabbitMQ).

    Args:
        settings: the broker and timeouts (``celery_broker_url``, ``celery_visibility_timeout``).
        app: the Celery application to publish with; by default one built from ``settings``.
    """

    def __init__(self, settings: Settings, *, app: Celery | None = None) -> None:
        self.app = app or create_celery_app(settings)
        # A connection of its own (Celery's pools are shared by every app of the process), used
        # by one sender at a time; it connects on first use and reconnects when the broker drops.
        self._connection = self.app.connection_for_write()
        self._producer = self._connection.Producer()
        self._lock = threading.Lock()

    def send(self, workload: ExecuteTask, *, queue: str = DEFAULT_QUEUE) -> None:
        """Publish ``workload`` to the Celery queue ``queue``.

        Raises:
            kombu.exceptions.OperationalError: the broker could not be reached (after a few
                quick retries); the try stays queued until the scheduler's queued timeout.
        """
        with self._lock:
            self.app.send_task(
                TASK_NAME,
                args=[encode_workload(workload)],
                queue=queue or DEFAULT_QUEUE,
                argsrepr=repr(workload),
                kwargsrepr="{}",
                producer=self._producer,
            )

    def close(self) -> None:
        """Close the connection to the broker; messages already published stay delivered."""
        with self._lock:
            self._producer.close()
            self._connection.close()
        self.app.close()
