"""The Celery application that carries workloads from the scheduler to Celery workers.

Both ends build it from the same settings: the scheduler's ``CeleryExecutor`` publishes with it,
``airlock celery worker`` consumes with it. Its configuration is what makes delivery safe:

- ``task_acks_late``: a workload is acknowledged when its try has ended, not when it arrives,
  so a worker that dies mid-task leaves the message with the broker, which delivers it again;
- ``task_reject_on_worker_lost``: the same when a prefork pool process dies under its task;
- ``worker_prefetch_multiplier = 1``: a worker reserves no more workloads than it can run, so
  a busy worker does not sit on workloads an idle one could start;
- a Redis ``visibility_timeout`` longer than the heartbeat timeout, so the scheduler has
  decided the fate of a dead worker's try before Redis hands its workload to someone else.

A workload delivered twice never runs twice: ``/run`` moves a try from queued to running at
most once, and a supervisor refused there ends the try quietly (see ``celery_worker``).
Results are not stored by default: state travels through the Execution API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from celery import Celery

from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    from airlock.settings import Settings

TASK_NAME: Final = "airlock.execute_workload"
"""The Celery task that runs one workload."""

DEFAULT_QUEUE: Final = "default"
"""The queue of tasks that name none (``BaseOperator(queue=...)`` defaults to it too)."""

_MAX_RESTORE_INTERVAL: Final = 10.0


def create_celery_app(settings: Settings, *, main: str = "airlock") -> Celery:
    """Return a Celery application configured from airlock's settings.

    Args:
        settings: the broker, result backend and timeouts to use.
        main: the application's name, shown by Celery's own tools.

    Raises:
        ConfigError: ``celery_visibility_timeout`` is not longer than ``heartbeat_timeout``.
    """
    check_visibility_timeout(settings)
    app = Celery(main, set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


def check_visibility_timeout(settings: Settings) -> None:
    """Refuse a visibility timeout that could hand a live try's workload to another worker.

    Raises:
        ConfigError: ``celery_visibility_timeout`` is not longer than ``heartbeat_timeout``.
    """
    if settings.celery_visibility_timeout <= settings.heartbeat_timeout:
        raise ConfigError(
            f"celery_visibility_timeout ({settings.celery_visibility_timeout:g}s) must be longer "
            f"than heartbeat_timeout ({settings.heartbeat_timeout:g}s): set "
            "AIRLOCK_CELERY_VISIBILITY_TIMEOUT higher, so that the scheduler decides the fate of "
            "a dead worker's try before the broker delivers its workload again"
        )


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration airlock's delivery guarantees rest on."""
    return {
        "broker_url": settings.celery_broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": _transport_options(settings.celery_visibility_timeout),
        "result_backend": settings.celery_result_backend,
        "task_ignore_result": settings.celery_result_backend is None,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": DEFAULT_QUEUE,
        "task_create_missing_queues": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "enable_utc": True,
    }


def _transport_options(visibility_timeout: float) -> dict[str, Any]:
    # Redis only (RabbitMQ ignores them): how long a delivered, unacknowledged workload stays
    # invisible, and how often workers look for ones whose time is up (every tenth of it, at
    # most every 10 s, instead of kombu's default of about 100 s).
    restore_every = max(1.0, min(_MAX_RESTORE_INTERVAL, visibility_timeout / 10))
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": restore_every,
        "unacked_restore_throttle": 1,
    }
