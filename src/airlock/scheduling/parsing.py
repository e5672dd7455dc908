"""Parsing DAG files in a separate process, with a timeout.

A DAG file is user code. The trusted side (scheduler, ``airlock dags test``) never imports it:
it starts ``airlock.scheduling.parse_worker`` in its own process group, waits at most
``timeout`` seconds, and reads back plain data. A file that fails to import, hangs, or kills its
interpreter gives a ``ParseResult`` whose ``error`` names the file (and line, when known).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from airlock.definitions.serialized import ParseError, ParseResult
from airlock.execution.process import runner_environment

_result_decoder = msgspec.msgpack.Decoder(ParseResult)
_STDERR_TAIL_LINES = 20


def parse_dag_file(path: str | Path, *, timeout: float = 30.0) -> ParseResult:
    """Parse one DAG file in a child process and return its DAGs or its error."""
    path = str(Path(path).resolve())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="airlock-parse-") as folder:
        out = Path(folder) / "result.msgpack"
        proc = subprocess.Popen(
            [sys.executable, "-m", "airlock.scheduling.parse_worker", path, str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=runner_environment(os.environ),
            cwd=str(Path(path).parent),
            start_new_session=True,
        )
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            message = f"parsing took longer than {timeout:g}s and was stopped"
            return _failed(path, message, started)
        return _read_result(path, out, proc.returncode, stderr, started)


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


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
