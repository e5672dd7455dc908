"""The contract between the scheduler and an executor.

The scheduler queues a try (state ``queued``) and hands the executor an ``ExecuteTask``
workload; the executor delivers it to a supervisor somewhere, which starts the try through the
Execution API. The executor reports nothing back: every state change travels through the API,
and a workload that never starts is caught by the scheduler's queued timeout, one that stops
heartbeating by its heartbeat timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from airlock.execution.workload import ExecuteTask


class Executor(Protocol):
    """Delivers workloads to supervisors."""

    def send(self, workload: ExecuteTask, *, queue: str) -> None:
        """Deliver ``workload`` to a supervisor serving ``queue``; must not block for long."""
        ...

    def close(self) -> None:
        """Release connections; workloads already sent stay delivered."""
        ...
