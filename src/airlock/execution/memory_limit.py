"""A runner's memory limit: set by the supervisor before user code runs, explained when hit.

The limit is on the runner's address space (``RLIMIT_AS``, what ``ulimit -v`` sets): the
supervisor applies it with ``prlimit`` to the started runner, which is still waiting for its
``StartupDetails``, so no user code has run yet, whichever way the runner was started. Both the
soft and the hard limit are set, so task code cannot raise it again (unless it runs as root).

Past the limit an allocation fails: Python raises ``MemoryError``, the task fails with it, and
the supervisor words the reason as "exceeded its memory limit of N MiB". The limit counts
address space, not resident memory: the interpreter, its libraries, thread stacks and
``malloc`` arenas count too, so leave headroom (a bare runner already maps about 30 MiB).

A runner killed by the kernel's OOM killer (a cgroup or the host out of memory) is a different
case: it dies of SIGKILL, and its reason says so.
"""

from __future__ import annotations

import resource
from typing import Final

MIB: Final = 1024 * 1024


def limit_memory(pid: int, limit: int) -> None:
    """Limit the address space of process ``pid`` to ``limit`` bytes (soft and hard).

    Raises:
        OSError: the limit cannot be set (no such process, or not permitted).
    """
    try:
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
    except ValueError as exc:  # the kernel refused the value itself
        raise OSError(f"cannot limit runner {pid} to {limit} bytes: {exc}") from None


def describe(limit: int) -> str:
    """The limit in words: ``512 MiB``."""
    return f"{limit / MIB:.4g} MiB"


def explain(reason: str, limit: int | None) -> str:
    """Word a failure ``reason`` as a memory limit hit, when a ``MemoryError`` under a limit.

    Any other reason, or a try with no limit, is returned unchanged.
    """
    if limit is None or not reason.startswith("MemoryError"):
        return reason
    return f"the task exceeded its memory limit of {describe(limit)} ({reason})"
