"""Moving a runner's stdout, stderr and log-channel lines into its try's log, as they arrive."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING

from airlock.execution.log_sink import split_lines

if TYPE_CHECKING:
    from collections.abc import Callable

    from airlock.execution.log_sink import TaskLogSink
    from airlock.execution.process import RunnerProcess


class OutputPumps:
    """Moves the runner's stdout, stderr and log-channel lines into the log sink."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, proc: RunnerProcess, sink: TaskLogSink
    ) -> None:
        self._loop = loop
        self._sink = sink
        self._open: dict[int, asyncio.Event] = {}
        writers: dict[int, Callable[[bytes], None]] = {
            proc.stdout_fd: lambda line: sink.output(line, stream="stdout"),
            proc.stderr_fd: lambda line: sink.output(line, stream="stderr"),
            proc.log_fd: sink.structured,
        }
        for fd, write in writers.items():
            self._open[fd] = asyncio.Event()
            loop.add_reader(fd, self._pump, fd, bytearray(), write)

    def _pump(self, fd: int, buffer: bytearray, write: Callable[[bytes], None]) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        for line in split_lines(buffer, data):
            write(line)
        if not data:
            if buffer:
                write(bytes(buffer))
            self._loop.remove_reader(fd)
            self._open[fd].set()

    async def drain(self, seconds: float) -> None:
        """Wait until every channel reached end of file (the runner and its children closed it)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await asyncio.gather(*(event.wait() for event in self._open.values()))

    def close(self) -> None:
        """Stop watching the channels."""
        for fd, event in self._open.items():
            if not event.is_set():
                self._loop.remove_reader(fd)
