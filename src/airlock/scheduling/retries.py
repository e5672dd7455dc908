"""How long a failed try waits before the next one: Airflow's retry delay, exponential or not.

Without ``retry_exponential_backoff`` the wait is ``retry_delay``. With it, as in Airflow, the
wait after try ``n`` is at least ``ceil(retry_delay * 2**(n-1))`` seconds (and at least one), plus
a deterministic jitter below that amount (a hash of the task instance and the try number, so
tasks failing together do not retry together), capped at 24 hours and then by
``max_retry_delay``. ``max_retry_delay`` applies only with exponential backoff, as in Airflow.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta
from typing import Final

MAX_RETRY_DELAY: Final = 24 * 60 * 60
"""The longest exponential wait, in seconds, whatever ``max_retry_delay`` says (Airflow's)."""


def next_retry_delay(
    retry_delay: float,
    try_number: int,
    *,
    exponential_backoff: bool,
    max_retry_delay: float | None,
    seed: str = "",
) -> timedelta:
    """Return the wait after try ``try_number`` failed.

    Args:
        retry_delay: the task's ``retry_delay``, in seconds.
        try_number: the try that failed (1 for the first).
        exponential_backoff: the task's ``retry_exponential_backoff``.
        max_retry_delay: the task's ``max_retry_delay``, in seconds, if any.
        seed: what identifies the task instance, for the jitter (dag, task, run).
    """
    if not exponential_backoff:
        return timedelta(seconds=retry_delay)
    min_backoff = max(1, math.ceil(retry_delay * 2 ** max(0, try_number - 1)))
    digest = hashlib.sha256(f"{seed}#{try_number}".encode()).hexdigest()
    seconds = min(min_backoff + int(digest, 16) % min_backoff, MAX_RETRY_DELAY)
    if max_retry_delay is not None:
        seconds = min(seconds, max_retry_delay)
    return timedelta(seconds=seconds)
