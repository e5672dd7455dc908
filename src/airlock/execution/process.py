"""Starting a task runner process and stopping it: the process lifecycle half of supervising.

The runner is a fresh interpreter (``python -m airlock.execution.runner``), exec'd, so it holds
nothing of the supervisor's memory, and in its own session (process group), so that stopping it
also stops whatever it started. Its channels:

- fd 0: one end of a ``socketpair`` (the request socket; the runner moves it off fd 0 at once);
- fd 1 / fd 2: pipes for stdout and stderr;
- the fd named by ``AIRLOCK_LOG_FD``: a pipe for structured log lines.

Exit is observed through a pidfd, so waiting for it never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Final

from airlock.execution.log_channel import LOG_FD_ENV

RUNNER_MODULE: Final = "airlock.execution.runner"

_CONTROL_PLANE_ENV_PREFIXES: Final = ("AIRLOCK_",)
_RUNNER_ENV_ALLOWED_PREFIXES: Final = ("AIRLOCK_VAR_", "AIRLOCK_CONN_")
_RUNNER_ENV_ALLOWED: Final = frozenset(
    {"AIRLOCK_HOME", "AIRLOCK_MAX_FRAME_BYTES", "AIRLOCK_XCOM_MAX_BYTES", "AIRLOCK_LOG_LEVEL"}
)


def runner_environment(base: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The environment a runner gets: the supervisor's, minus airlock's control-plane settings.

    Database URLs, signing keys and any other ``AIRLOCK_*`` setting stay behind; Variables and
    Connections given as ``AIRLOCK_VAR_*``/``AIRLOCK_CONN_*`` and the runner's own limits pass.
    """
    return {key: value for key, value in base.items() if _passes_to_runner(key)}


def _passes_to_runner(key: str) -> bool:
    if not key.startswith(_CONTROL_PLANE_ENV_PREFIXES):
        return True
    return key in _RUNNER_ENV_ALLOWED or key.startswith(_RUNNER_ENV_ALLOWED_PREFIXES)


@dataclass(eq=False)
class RunnerProcess:
    """A started runner and the supervisor's ends of its channels."""

    popen: subprocess.Popen[bytes]
    requests: socket.socket
    stdout_fd: int
    stderr_fd: int
    log_fd: int
    _exited: asyncio.Future[int] = field(init=False)

    @property
    def pid(self) -> int:
        """The runner's process id (also its process group id)."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the runner has exited: negative for a signal."""
        return self.popen.returncode

    def watch_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start observing the runner's exit through a pidfd."""
        self._exited = loop.create_future()
        pidfd = os.pidfd_open(self.pid)

        def on_exit() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            # Until the runner is reaped its pid (and so its group id) cannot be reused: this is
            # the one moment when killing the group hits only what the runner left behind.
            self.signal_group(signal.SIGKILL)
            self._exited.set_result(self.popen.wait())

        loop.add_reader(pidfd, on_exit)

    async def wait(self) -> int:
        """Wait for the runner to exit; return its exit status."""
        return await asyncio.shield(self._exited)

    @property
    def has_exited(self) -> bool:
        """Whether the runner has exited."""
        return self._exited.done()

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the runner's whole process group, if any of it is left."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    async def stop(self, grace: float) -> None:
        """SIGTERM the runner's group, then SIGKILL it if it has not exited after ``grace``."""
        self.signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.wait(), timeout=grace)
        except TimeoutError:
            self.signal_group(signal.SIGKILL)
            await self.wait()

    def close(self) -> None:
        """Close the supervisor's ends of the channels."""
        self.requests.close()
        for fd in (self.stdout_fd, self.stderr_fd, self.log_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def spawn_runner(env: dict[str, str], *, cwd: str | None = None) -> RunnerProcess:
    """Start a runner process with its channels; it waits for ``StartupDetails`` on fd 0."""
    supervisor_end, runner_end = socket.socketpair()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    log_read, log_write = os.pipe()
    try:
        popen = subprocess.Popen(
            [sys.executable, "-m", RUNNER_MODULE],
            stdin=runner_end.fileno(),
            stdout=out_write,
            stderr=err_write,
            pass_fds=(log_write,),
            env={**env, LOG_FD_ENV: str(log_write)},
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        runner_end.close()
        for fd in (out_write, err_write, log_write):
            os.close(fd)
    supervisor_end.setblocking(False)  # noqa: FBT003 -- socket API
    for fd in (out_read, err_read, log_read):
        os.set_blocking(fd, False)
    return RunnerProcess(popen, supervisor_end, out_read, err_read, log_read)


def describe_exit(status: int) -> str:
    """Say in words how a runner ended, from its exit status."""
    if status >= 0:
        return f"the runner exited with code {status}"
    try:
        signum = signal.Signals(-status)
    except ValueError:
        return f"the runner was killed by signal {-status}"
    hint = {
        signal.SIGKILL: " (killed from outside: out of memory, or an operator's kill -9)",
        signal.SIGSEGV: " (a segmentation fault in native code)",
        signal.SIGABRT: " (aborted, often by a failed assertion in native code)",
        signal.SIGBUS: " (a bus error in native code)",
    }.get(signum, "")
    return f"the runner was killed by {signum.name}{hint}"
