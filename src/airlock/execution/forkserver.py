"""The fork server: a preloaded process that forks task runners in about a millisecond.

The supervisor starts it as a fresh interpreter (``python -m airlock.execution.forkserver``),
so it inherits none of the supervisor's memory, and it never receives a token: a runner gets
its ``StartupDetails`` from the supervisor, over its own socket, after the fork. The server
imports the runner side once (``gc.freeze()`` afterwards, so forked children do not copy the
pages the garbage collector would touch), stays single-threaded, opens no network socket, and
then serves requests on one ``SOCK_SEQPACKET`` control socket:

- ``Spawn`` (with four fds attached by ``SCM_RIGHTS``: request socket, stdout, stderr, log
  channel) — fork a runner onto those fds, answer ``Spawned`` with its pid. With ``dag_file``
  set, the server first imports that DAG file (unless it already has, unchanged), so the child
  finds it parsed.
- When a runner exits, the server kills whatever the runner left in its process group (the pid
  cannot have been reused before the runner is reaped), reaps it, and sends ``Exited``.
- When the control socket closes (the supervisor is gone), the server kills every runner it
  started and exits: no runner outlives its supervisor.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Final

import msgspec

from airlock.execution.protocol import PARENT_PID_ENV
from airlock.execution.run_as import RunAsUser, become

if TYPE_CHECKING:
    from collections.abc import Iterator

CONTROL_FD_ENV: Final = "AIRLOCK_FORKSERVER_FD"
LOG_FD: Final = 3
"""The fd a forked runner finds its log channel on."""
PRELOAD_TIMEOUT: Final = 30.0
"""Seconds a DAG file may take to import in the fork server unless the spawn request says."""
_MAX_PACKET: Final = 64 * 1024


class Spawn(msgspec.Struct, frozen=True, tag=True):
    """Fork a runner onto the four attached fds; import ``dag_file`` first when given.

    The import is given up after ``preload_timeout`` seconds (the runner then imports the file
    itself); with ``run_as`` the runner switches to that user before it runs anything.
    """

    request_id: int
    dag_file: str | None = None
    preload_timeout: float = PRELOAD_TIMEOUT
    run_as: RunAsUser | None = None


class Shutdown(msgspec.Struct, frozen=True, tag=True):
    """Stop: kill the runners still alive and exit."""


class Ready(msgspec.Struct, frozen=True, tag=True):
    """The server is up; ``preload_seconds`` is what importing the runner side cost."""

    pid: int
    preload_seconds: float


class Spawned(msgspec.Struct, frozen=True, tag=True):
    """A runner was forked for ``request_id``; ``parse_seconds`` is the DAG-file import cost."""

    request_id: int
    pid: int
    parse_seconds: float | None = None
    parse_cached: bool = False


class SpawnFailed(msgspec.Struct, frozen=True, tag=True):
    """No runner could be forked for ``request_id``."""

    request_id: int
    error: str


class Exited(msgspec.Struct, frozen=True, tag=True):
    """A runner exited; ``status`` is its exit code, or minus the signal that killed it."""

    pid: int
    status: int


ToForkServer = Spawn | Shutdown
FromForkServer = Ready | Spawned | SpawnFailed | Exited

_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(ToForkServer)


def encode(message: ToForkServer | FromForkServer) -> bytes:
    """Encode one control message (one packet)."""
    return _encoder.encode(message)


class ForkServer:
    """The server loop: spawn requests in, pids and exit statuses out."""

    def __init__(self, control: socket.socket) -> None:
        self._control = control
        self._selector = selectors.DefaultSelector()
        self._selector.register(control, selectors.EVENT_READ)
        self._children: dict[int, int] = {}  # pidfd -> pid
        self._unsafe_files: set[str] = set()

    def serve(self) -> None:
        """Answer requests until the control socket closes or ``Shutdown`` arrives."""
        while True:
            for key, _ in self._selector.select():
                if key.fileobj is self._control:
                    if not self._handle_request():
                        self._stop_children()
                        return
                else:
                    self._reap(key.fd)

    def _handle_request(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self._control, _MAX_PACKET, 4)
        except ConnectionResetError:
            return False
        if not data:
            return False
        message = _request_decoder.decode(data)
        if isinstance(message, Shutdown):
            return False
        self._spawn(message, fds)
        return True

    def _spawn(self, request: Spawn, fds: list[int]) -> None:
        try:
            parse_seconds, cached = self._preload(request.dag_file, request.preload_timeout)
            pid = _fork_runner(fds, self._control, request.run_as)
        except OSError as exc:
            self._send(SpawnFailed(request_id=request.request_id, error=repr(exc)))
            return
        finally:
            for fd in fds:
                os.close(fd)
        pidfd = os.pidfd_open(pid)
        self._children[pidfd] = pid
        self._selector.register(pidfd, selectors.EVENT_READ)
        self._send(Spawned(request.request_id, pid, parse_seconds, cached))

    def _preload(self, dag_file: str | None, timeout: float) -> tuple[float | None, bool]:
        """Import ``dag_file`` here so forked runners find it parsed; never fail the spawn."""
        if dag_file is None or dag_file in self._unsafe_files:
            return None, False
        from airlock.definitions.loader import cached_dag_file  # noqa: PLC0415 -- preloaded

        started = time.perf_counter()
        try:
            with _alarm(timeout):
                _, cached = cached_dag_file(dag_file)
        except Exception:  # noqa: BLE001 -- the runner imports it again and reports the error
            self._unsafe_files.add(dag_file)
            return None, False
        if threading.active_count() > 1:  # the file started a thread: forking is unsafe now
            self._unsafe_files.add(dag_file)
        gc.freeze()
        return time.perf_counter() - started, cached

    def _reap(self, pidfd: int) -> None:
        pid = self._children.pop(pidfd)
        self._selector.unregister(pidfd)
        os.close(pidfd)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # leftovers; the group id is still the runner's
        _, wait_status = os.waitpid(pid, 0)
        self._send(Exited(pid, os.waitstatus_to_exitcode(wait_status)))

    def _send(self, message: FromForkServer) -> None:
        with contextlib.suppress(OSError):  # the supervisor is gone: the loop will notice
            self._control.send(encode(message))

    def _stop_children(self) -> None:
        for pid in self._children.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for pidfd, pid in list(self._children.items()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            os.close(pidfd)
        self._children.clear()


class _PreloadTimeoutError(Exception):
    """Importing a DAG file in the fork server took too long."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def on_alarm(_signum: int, _frame: object) -> None:
        raise _PreloadTimeoutError

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fork_runner(fds: list[int], control: socket.socket, run_as: RunAsUser | None) -> int:
    """Fork; the child becomes a runner on ``fds`` (as ``run_as``) and never returns."""
    if len(fds) != 4:  # noqa: PLR2004 -- request socket, stdout, stderr, log channel
        raise OSError(f"a spawn request needs 4 fds, got {len(fds)}")
    sys.stdout.flush()
    sys.stderr.flush()
    server_pid = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:
        control.close()
        _become_runner(fds, run_as, server_pid)
    except BaseException as exc:  # noqa: BLE001 -- said on the runner's stderr, then exit
        with contextlib.suppress(OSError):
            os.write(2, f"airlock runner: could not start: {exc!r}\n".encode())
    finally:
        os._exit(1)  # only reached if becoming a runner failed before the runner took over


def _become_runner(fds: list[int], run_as: RunAsUser | None, server_pid: int) -> None:
    os.setsid()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    high = [_dup_above(fd, 10) for fd in fds]  # out of the way of the targets 0-3
    for target, fd in zip((0, 1, 2, LOG_FD), high, strict=True):
        os.dup2(fd, target)
    os.closerange(LOG_FD + 1, _max_fd())
    os.environ["AIRLOCK_LOG_FD"] = str(LOG_FD)
    os.environ[PARENT_PID_ENV] = str(server_pid)
    if run_as is not None:
        become(run_as)
    from airlock.execution import runner  # noqa: PLC0415 -- already imported by the server

    runner.run_and_exit()


def _dup_above(fd: int, lowest: int) -> int:
    import fcntl  # noqa: PLC0415 -- only in the child

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)


def _max_fd() -> int:
    return os.sysconf("SC_OPEN_MAX")


def _preload_runner_side() -> float:
    started = time.perf_counter()
    from airlock.compat import install_from_env  # noqa: PLC0415 -- before preloading DAG files

    install_from_env()  # --compat airflow: preloaded DAG files import through the shim
    import fcntl  # noqa: F401, PLC0415 -- preload for children: every runner dups its fds

    import airlock.definitions.decorators  # noqa: PLC0415
    import airlock.definitions.loader  # noqa: PLC0415
    import airlock.definitions.templating  # noqa: PLC0415 -- every operator renders its fields
    import airlock.execution.runner  # noqa: PLC0415
    import airlock.operators.empty  # noqa: PLC0415
    import airlock.operators.python  # noqa: F401, PLC0415

    with contextlib.suppress(ImportError):
        import ctypes  # noqa: F401, PLC0415 -- every runner asks for PR_SET_PDEATHSIG with it
    with contextlib.suppress(ImportError):
        import jinja2  # noqa: F401, PLC0415 -- templating, when a task renders anything
    logging.getLogger().handlers.clear()
    return time.perf_counter() - started


def main() -> int:
    """Serve on the control socket named by ``AIRLOCK_FORKSERVER_FD`` until told to stop."""
    control = socket.socket(fileno=int(os.environ.pop(CONTROL_FD_ENV)))
    preload_seconds = _preload_runner_side()
    gc.freeze()
    control.send(encode(Ready(os.getpid(), preload_seconds)))
    ForkServer(control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
