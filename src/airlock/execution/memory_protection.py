"""Keeping a supervisor's memory, and the tokens in it, out of reach of same-user processes.

A runner that runs as the supervisor's own Unix user (no ``run_as_user``) could otherwise read
the supervisor's memory through ``/proc/<pid>/mem`` or ``ptrace`` on a host without a Yama
policy, and with it the tokens of every try that supervisor serves. Marking the supervisor's
process not dumpable (``prctl(PR_SET_DUMPABLE, 0)``) makes the kernel refuse both to processes
of the same user that lack ``CAP_SYS_PTRACE``; it also turns off core dumps, which would hold
the same tokens. Runners are unaffected: a new program (``exec``) is dumpable again, and the
fork server that forks them is one.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

log = logging.getLogger("airlock.supervisor")

_PR_SET_DUMPABLE: Final = 4
_PR_GET_DUMPABLE: Final = 3


def protect_memory() -> bool:
    """Make this process not dumpable; return whether it now is (``False`` off Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes  # noqa: PLC0415 -- Linux only

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0:
            return True
    log.warning("could not mark the supervisor not dumpable: same-user runners may read it")
    return False


def is_dumpable() -> bool:
    """Whether this process may be read or traced by processes of its own user."""
    import ctypes  # noqa: PLC0415 -- Linux only

    return bool(ctypes.CDLL(None, use_errno=True).prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0))
