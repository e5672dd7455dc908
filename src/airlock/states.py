"""The states a task instance and a DAG run move through.

Shared by the runner, the supervisor, the API and the scheduler: it imports nothing but the
standard library.
"""

from __future__ import annotations

from enum import StrEnum


class TaskInstanceState(StrEnum):
    """Where a task instance stands; a fresh task instance has no state (``None``)."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    REMOVED = "removed"


class DagRunState(StrEnum):
    """Where a DAG run stands."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


FINISHED_TI_STATES = frozenset(
    {
        TaskInstanceState.SUCCESS,
        TaskInstanceState.FAILED,
        TaskInstanceState.SKIPPED,
        TaskInstanceState.UPSTREAM_FAILED,
        TaskInstanceState.REMOVED,
    }
)
"""States a task instance never leaves without being cleared."""

FAILED_TI_STATES = frozenset({TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED})
"""States that make a DAG run fail when a leaf task ends in them."""

FINISHED_RUN_STATES = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})
"""States a DAG run never leaves."""
