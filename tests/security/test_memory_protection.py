"""A supervisor's memory (and the tokens in it) is out of reach of processes of its own user.

Both sides run as a throwaway user (forked from the test, then ``setuid``), so the kernel's
same-user rules apply and root's ``CAP_SYS_PTRACE`` does not: a process that called
:func:`protect_memory` cannot have its ``/proc/<pid>/mem`` opened; one that did not, can.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from airlock.execution.memory_protection import protect_memory

if TYPE_CHECKING:
    import pwd


def _become(user: pwd.struct_passwd) -> None:
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def _set_dumpable(value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(4, value, 0, 0, 0)  # PR_SET_DUMPABLE


def _target(user: pwd.struct_passwd, *, protect: bool) -> int:
    """Fork a process of ``user`` that (maybe) protects itself and waits; return its pid."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            _become(user)
            # a uid change leaves a process not dumpable; a program started by the user
            # directly is dumpable, so that is the state to start from
            _set_dumpable(1)
            if protect:
                protect_memory()
            os.write(ready_write, b"x")
            signal.pause()
        finally:
            os._exit(0)
    os.close(ready_write)
    assert os.read(ready_read, 1) == b"x"
    os.close(ready_read)
    return pid


def _can_open_memory_of(pid: int, user: pwd.struct_passwd) -> bool:
    """Whether a process of ``user`` can open ``/proc/<pid>/mem``."""
    child = os.fork()
    if child == 0:
        code = 2
        try:
            _become(user)
            with open(f"/proc/{pid}/mem", "rb"):  # noqa: PTH123 -- a /proc file
                code = 0
        except PermissionError:
            code = 1
        except OSError as exc:
            code = 1 if exc.errno in (errno.EACCES, errno.EPERM) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 1), f"the probe failed oddly (exit {code})"
    return code == 0


def test_a_protected_process_s_memory_is_closed_to_its_own_user(throwaway_user):
    """Same user, no privilege: the unprotected process is readable, the protected one not."""
    open_target = _target(throwaway_user, protect=False)
    closed_target = _target(throwaway_user, protect=True)
    try:
        assert _can_open_memory_of(open_target, throwaway_user)
        assert not _can_open_memory_of(closed_target, throwaway_user)
    finally:
        for pid in (open_target, closed_target):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def test_a_supervisor_protects_its_memory_before_it_holds_a_token(tmp_path):
    """Making a ``Supervisor`` marks its process not dumpable (checked in a fresh interpreter)."""
    program = f"""
import asyncio
from airlock.api.client import ExecutionApiClient
from airlock.execution.memory_protection import is_dumpable
from airlock.execution.supervisor import Supervisor
from airlock.settings import Settings

assert is_dumpable()
client = ExecutionApiClient("http://127.0.0.1:9")
Supervisor(client, Settings(home={str(tmp_path)!r}))
asyncio.run(client.aclose())
print("dumpable" if is_dumpable() else "protected")
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "protected", done.stderr
