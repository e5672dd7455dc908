"""The local executor, scheduler side: the task_instance table is the queue.

With ``executor = "local"`` the scheduler sends nothing anywhere: a queued try *is* the
delivery. Local workers (``airlock worker``) claim queued tries from the Execution API
(``POST /workloads/claim``), which mints their workload tokens, so the signing key never has
to reach a worker host. ``send`` only counts, for the scheduler's logs and tests.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airlock.execution.workload import ExecuteTask


class LocalExecutor:
    """Leaves queued tries in the database for local workers to claim."""

    def __init__(self) -> None:
        self.queued: Counter[str] = Counter()
        """Tries queued so far, per queue."""

    def send(self, workload: ExecuteTask, *, queue: str) -> None:  # noqa: ARG002 -- protocol
        """Note that a try was queued; workers find it in the database."""
        self.queued[queue] += 1

    def close(self) -> None:
        """Nothing to release."""
