"""How one try's runner is confined: the user it runs as and its memory limit.

The task's own ``run_as_user`` and ``executor_config["memory_limit"]`` come with the workload;
when unset, the worker's ``default_run_as_user`` and ``runner_memory_limit`` settings apply.
The user is resolved before the runner starts (and switched to inside it, before user code);
the memory limit is set on the started runner while it still waits for its ``StartupDetails``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airlock.execution import memory_limit
from airlock.execution.process import LaunchOptions
from airlock.execution.run_as import RunAsUser, resolve_run_as

if TYPE_CHECKING:
    from airlock.execution.workload import ExecuteTask
    from airlock.settings import Settings


@dataclass(frozen=True)
class Confinement:
    """The user (``None``: the supervisor's) and memory limit (bytes) of one try's runner."""

    run_as: RunAsUser | None = None
    memory_limit: int | None = None

    @classmethod
    def for_workload(cls, workload: ExecuteTask, settings: Settings) -> Confinement:
        """The confinement ``workload`` asks for, with the worker's settings as defaults.

        Raises:
            RunAsError: the user does not exist, or this process cannot switch to it.
        """
        user = workload.run_as_user or settings.default_run_as_user
        limit = workload.memory_limit or settings.runner_memory_limit
        return cls(run_as=resolve_run_as(user), memory_limit=limit)

    def launch_options(self) -> LaunchOptions:
        """What the launcher must do as it starts the runner."""
        return LaunchOptions(run_as=self.run_as)

    def apply(self, pid: int) -> None:
        """Set the memory limit on the started runner ``pid``, if there is one.

        Raises:
            OSError: the limit cannot be set.
        """
        if self.memory_limit is not None:
            memory_limit.limit_memory(pid, self.memory_limit)

    def explain(self, reason: str) -> str:
        """Word a failure reason as a memory limit hit when it is one."""
        return memory_limit.explain(reason, self.memory_limit)

    def describe(self) -> dict[str, str]:
        """The confinement, as fields for the try's log (empty when there is none)."""
        fields = {}
        if self.run_as is not None:
            fields["run_as_user"] = self.run_as.name
        if self.memory_limit is not None:
            fields["memory_limit"] = memory_limit.describe(self.memory_limit)
        return fields
