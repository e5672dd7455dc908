"""Parsing DAG files in a separate process, with a timeout.

A DAG file is user code. The trusted side (scheduler, ``airlock dags test``) never imports it:
it starts ``airlock.scheduling.parse_worker`` in its own process group, waits at most
``timeout`` seconds, and reads back plain data. A file that fails to import, hangs, or kills its
interpreter gives a ``ParseResult`` whose ``error`` names the file (and line, when known).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from airlock.compat import COMPAT_ENV
from airlock.definitions.serialized import ParseError, ParseResult
from airlock.execution.process import runner_environment

_result_decoder = msgspec.msgpack.Decoder(ParseResult)
_STDERR_TAIL_LINES = 20
_STDERR_TAIL_BYTES = 64 * 1024


def parse_dag_file(
    path: str | Path, *, timeout: float = 30.0, compat: str | None = None
) -> ParseResult:
    """Parse one DAG file in a child process and return its DAGs or its error.

    ``compat`` (``"airflow"``) makes the parser import the file through the Airflow import
    shim (``airlock.compat``); by default the parser inherits this process's switch.
    """
    path = str(Path(path).resolve())
    env = runner_environment(os.environ)
    if compat:
        env[COMPAT_ENV] = compat
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="airlock-parse-") as folder:
        out = Path(folder) / "result.msgpack"
        proc = subprocess.Popen(
            [sys.executable, "-m", "airlock.scheduling.parse_worker", path, str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(Path(path).parent),
            start_new_session=True,
        )
        finished, stderr = _wait_reading_stderr(proc, timeout)
        if not finished:
            message = f"parsing took longer than {timeout:g}s and was stopped"
            return _failed(path, message, started)
        return _read_result(path, out, proc.returncode, stderr, started)


def _wait_reading_stderr(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bool, bytes]:
    """Wait for the parser to exit (not for its leftovers), keeping the tail of its stderr.

    Returns whether it exited within ``timeout``, and the last ``_STDERR_TAIL_BYTES`` it wrote:
    a file that prints megabytes costs no memory, and a child it forked or a thread it started
    (which may hold stderr open) does not make the parse wait. Whatever is left of the parser's
    process group is killed before the parser is reaped, so no pid can have been reused.
    """
    assert proc.stderr is not None  # noqa: S101 -- started with stderr=PIPE
    tail = _Tail()
    pidfd = os.pidfd_open(proc.pid)
    try:
        finished = tail.read_until_exit(proc.stderr.fileno(), pidfd, timeout)
    finally:
        os.close(pidfd)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    return finished, bytes(tail.data)


class _Tail:
    """The last bytes read from a stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    def read_until_exit(self, fd: int, pidfd: int, timeout: float) -> bool:
        """Read ``fd`` until the process of ``pidfd`` exits; ``False`` if ``timeout`` passed."""
        os.set_blocking(fd, False)
        deadline = time.monotonic() + timeout
        watched = [pidfd, fd]
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select(watched, [], [], remaining)
            if fd in readable and not self._read_available(fd):
                watched.remove(fd)
            if pidfd in readable:
                self._read_available(fd)
                return True
        return False

    def _read_available(self, fd: int) -> bool:
        """Read what ``fd`` holds now, up to 1 MiB (a flood must not keep us here).

        Returns ``False`` at end of file.
        """
        for _ in range(16):
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # nothing more for now (EAGAIN), or the pipe is gone
                return True
            if not chunk:
                return False
            self.data += chunk
            del self.data[:-_STDERR_TAIL_BYTES]
        return True


def _read_result(
    path: str, out: Path, returncode: int, stderr: bytes, started: float
) -> ParseResult:
    if out.exists() and out.stat().st_size:
        try:
            return _result_decoder.decode(out.read_bytes())
        except msgspec.MsgspecError as exc:
            return _failed(path, f"the parser wrote an unreadable result: {exc}", started)
    tail = "\n".join(stderr.decode(errors="replace").splitlines()[-_STDERR_TAIL_LINES:])
    message = f"the parser process ended with status {returncode} before reporting"
    return _failed(path, f"{message}:\n{tail}" if tail else message, started)


def _failed(path: str, message: str, started: float) -> ParseResult:
    error = ParseError(path=path, line=None, message=message)
    return ParseResult(path=path, error=error, duration=time.perf_counter() - started)
