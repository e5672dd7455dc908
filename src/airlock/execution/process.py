"""Starting a task runner process and stopping it: the process lifecycle half of supervising.

A runner's channels are made here, in the supervisor:

- a ``socketpair`` for requests (the runner's end becomes its fd 0, which it moves off at once);
- pipes for stdout, stderr and the structured log channel.

Two launchers start runners on those channels. ``ForkServerLauncher`` (the default) asks a
preloaded fork server (``execution.forkserver``), which forks one in about a millisecond.
``ExecLauncher`` starts a fresh interpreter (``python -m airlock.execution.runner``) per runner:
slower, for code that is not fork-safe. Either way the runner inherits no memory of the
supervisor, runs in its own session (process group) so that stopping it stops what it
started, and its exit status reaches the supervisor without blocking the event loop.
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
from typing import TYPE_CHECKING, Final, Protocol

from airlock.execution.log_channel import LOG_FD_ENV
from airlock.execution.protocol import PARENT_PID_ENV

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airlock.execution.run_as import RunAsUser

RUNNER_MODULE: Final = "airlock.execution.runner"

_CONTROL_PLANE_ENV_PREFIXES: Final = ("AIRLOCK_",)
_RUNNER_ENV_ALLOWED_PREFIXES: Final = ("AIRLOCK_VAR_", "AIRLOCK_CONN_")
_RUNNER_ENV_ALLOWED: Final = frozenset(
    {
        "AIRLOCK_HOME",
        "AIRLOCK_MAX_FRAME_BYTES",
        "AIRLOCK_XCOM_MAX_BYTES",
        "AIRLOCK_MAX_TEMPLATED_FIELD_LENGTH",
        "AIRLOCK_LOG_LEVEL",
        "AIRLOCK_COMPAT",
    }
)


def runner_environment(base: Mapping[str, str]) -> dict[str, str]:
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
class RunnerChannels:
    """Both ends of a runner's channels, before it starts."""

    supervisor_end: socket.socket
    runner_end: socket.socket
    stdout: tuple[int, int]
    stderr: tuple[int, int]
    log: tuple[int, int]

    @classmethod
    def open(cls) -> RunnerChannels:
        """Create the socketpair and the three pipes (read end, write end)."""
        supervisor_end, runner_end = socket.socketpair()
        return cls(supervisor_end, runner_end, os.pipe(), os.pipe(), os.pipe())

    def runner_fds(self) -> list[int]:
        """The runner's ends, in the order request socket, stdout, stderr, log channel."""
        return [self.runner_end.fileno(), self.stdout[1], self.stderr[1], self.log[1]]

    def close_runner_ends(self) -> None:
        """Close the runner's ends in the supervisor once the runner has its own copies."""
        self.runner_end.close()
        for _, write_end in (self.stdout, self.stderr, self.log):
            os.close(write_end)

    def close_all(self) -> None:
        """Close every fd (the runner never started)."""
        self.supervisor_end.close()
        self.close_runner_ends()
        for read_end, _ in (self.stdout, self.stderr, self.log):
            os.close(read_end)


@dataclass(eq=False)
class RunnerProcess:
    """A started runner and the supervisor's ends of its channels."""

    pid: int
    requests: socket.socket
    stdout_fd: int
    stderr_fd: int
    log_fd: int
    exited: asyncio.Future[int] = field(repr=False)
    startup_note: str = ""
    """What starting the runner cost, for the try's log."""

    @classmethod
    def adopt(
        cls, pid: int, channels: RunnerChannels, exited: asyncio.Future[int], note: str = ""
    ) -> RunnerProcess:
        """Take over the supervisor's ends of ``channels`` for the started runner ``pid``."""
        channels.close_runner_ends()
        channels.supervisor_end.setblocking(False)  # noqa: FBT003 -- socket API
        for read_end, _ in (channels.stdout, channels.stderr, channels.log):
            os.set_blocking(read_end, False)
        return cls(
            pid,
            channels.supervisor_end,
            channels.stdout[0],
            channels.stderr[0],
            channels.log[0],
            exited,
            note,
        )

    @property
    def returncode(self) -> int | None:
        """The exit status once the runner has exited: negative for a signal."""
        return self.exited.result() if self.exited.done() else None

    @property
    def has_exited(self) -> bool:
        """Whether the runner has exited."""
        return self.exited.done()

    async def wait(self) -> int:
        """Wait for the runner to exit; return its exit status."""
        return await asyncio.shield(self.exited)

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the runner's process group while the runner is alive.

        Once it has exited and been reaped its pid may be reused, so nothing is sent then
        (whoever reaped it killed the group's leftovers first).
        """
        if self.exited.done():
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            # A runner forked a moment ago may not have made its own group yet (setsid is
            # its first step): signal the runner itself, whose pid is still its own.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signum)
        except PermissionError:
            return

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


@dataclass(frozen=True)
class LaunchOptions:
    """How a runner is confined from its start: the user it runs as (``None``: ours)."""

    run_as: RunAsUser | None = None


class RunnerLauncher(Protocol):
    """Starts runner processes."""

    async def launch(self, dag_file: str, options: LaunchOptions | None = None) -> RunnerProcess:
        """Start a runner that will run a task of ``dag_file``; it waits for StartupDetails."""
        ...

    async def aclose(self) -> None:
        """Release the launcher's resources."""
        ...


class ExecLauncher:
    """Starts each runner as a fresh interpreter: ``python -m airlock.execution.runner``."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = runner_environment(os.environ if env is None else env)

    async def launch(
        self,
        dag_file: str,  # noqa: ARG002 -- the runner loads it
        options: LaunchOptions | None = None,
    ) -> RunnerProcess:
        """Exec a runner on fresh channels, as ``options.run_as`` when set."""
        channels = RunnerChannels.open()
        try:
            popen = self._popen(channels, options.run_as if options else None)
        except BaseException:
            channels.close_all()
            raise
        exited = _watch_exit(asyncio.get_running_loop(), popen)
        return RunnerProcess.adopt(popen.pid, channels, exited, "fresh interpreter")

    def _popen(self, channels: RunnerChannels, run_as: RunAsUser | None) -> subprocess.Popen[bytes]:
        request_fd, stdout_fd, stderr_fd, log_fd = channels.runner_fds()
        env = {**self._env, LOG_FD_ENV: str(log_fd), PARENT_PID_ENV: str(os.getpid())}
        return subprocess.Popen(
            [sys.executable, "-m", RUNNER_MODULE],
            stdin=request_fd,
            stdout=stdout_fd,
            stderr=stderr_fd,
            pass_fds=(log_fd,),
            env=env if run_as is None else {**env, **run_as.environment()},
            start_new_session=True,
            user=None if run_as is None else run_as.uid,
            group=None if run_as is None else run_as.gid,
            extra_groups=None if run_as is None else list(run_as.groups),
        )

    async def aclose(self) -> None:
        """Nothing to release."""


def _watch_exit(
    loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes]
) -> asyncio.Future[int]:
    """A future resolved with the exit status of ``popen``, observed through a pidfd."""
    exited: asyncio.Future[int] = loop.create_future()
    pidfd = os.pidfd_open(popen.pid)

    def on_exit() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        # Until the runner is reaped its pid (and so its group id) cannot be reused: this is
        # the one moment when killing the group hits only what the runner left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        exited.set_result(popen.wait())

    loop.add_reader(pidfd, on_exit)
    return exited


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
