"""Airflow's exception names, for task code that raises or catches them.

The control exceptions are airlock's own classes under Airflow's names, so ``raise
AirflowSkipException`` skips the task and ``except AirflowSkipException`` catches airlock's.
``AirflowException`` is a plain error: raising it fails the try (retries apply), as in Airflow.

One difference: in Airflow the control exceptions derive from ``AirflowException``; in airlock
they derive from ``BaseException`` (so that ``except Exception`` in task code cannot swallow a
skip), and ``except AirflowException`` does not catch them.
"""

from __future__ import annotations

from airlock.exceptions import (
    AirlockFailException,
    AirlockSkipException,
    AirlockTaskTerminated,
    AirlockTaskTimeout,
    DuplicateTaskIdError,
)

AirflowSkipException = AirlockSkipException
"""Raise to end the task instance as skipped."""

AirflowFailException = AirlockFailException
"""Raise to fail the task instance at once, without retries."""

AirflowTaskTimeout = AirlockTaskTimeout
"""Raised in a task that ran past its ``execution_timeout``."""

AirflowTaskTerminated = AirlockTaskTerminated
"""Raised in a task that its supervisor stopped."""

DuplicateTaskIdFound = DuplicateTaskIdError
"""Raised when two tasks of a DAG share a task id."""


class AirflowException(Exception):  # noqa: N818 -- Airflow's public name
    """A task's generic error: raising it fails the try, and retries apply."""


class AirflowNotFoundException(AirflowException):
    """Something a task looked up does not exist."""
