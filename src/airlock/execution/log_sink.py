"""One task instance try's log file: JSON lines from every channel, masked, in arrival order.

Three sources feed it: the runner's structured log channel (already JSON), the runner's stdout
(logged at ``info`` as logger ``task.stdout``) and stderr (``error``, ``task.stderr``), and the
supervisor's own lines (logger ``airlock.supervisor``). Every string of every line goes through
the secrets masker before it reaches the disk.

A try's own output is capped at ``max_task_bytes`` (the ``max_log_bytes_per_try`` setting):
past it, the task's lines are dropped (not even masked, so a flood costs little), one line says
so at once, and a last line counts what was dropped. The supervisor's lines are always written.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import msgspec

if TYPE_CHECKING:
    from pathlib import Path

    from airlock.execution.masking import SecretsMasker

MAX_LINE_BYTES: Final = 64 * 1024
"""A longer line from a task is cut (and marked), so one line cannot exhaust memory."""

_decoder = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def _open_for_append(path: Path) -> BinaryIO:
    """Open ``path`` for unbuffered appends, creating its folders when they are missing."""
    try:
        return open(path, "ab", buffering=0)  # noqa: PTH123 -- closed by close()
    except FileNotFoundError:
        os.makedirs(path.parent, exist_ok=True)  # noqa: PTH103 -- cheaper than Path.mkdir
        return open(path, "ab", buffering=0)  # noqa: PTH123 -- closed by close()


def log_relative_path(
    dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> str:
    """Where a try's log lives, relative to the logs folder."""
    mapped = f"/map_index={map_index}" if map_index >= 0 else ""
    return f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}{mapped}/attempt={try_number}.log"


class TaskLogSink:
    """Appends masked JSON log lines to one file.

    Args:
        path: the log file (its folder is created).
        masker: the try's secrets.
        max_task_bytes: the most bytes of the task's own lines written; ``None``: no cap.
    """

    def __init__(
        self, path: Path, masker: SecretsMasker, *, max_task_bytes: int | None = None
    ) -> None:
        self.path = path
        self._file = _open_for_append(path)
        self._masker = masker
        self._budget = _LogBudget(max_task_bytes)

    def structured(self, raw: bytes) -> None:
        """Write a line from the runner's log channel (JSON, or plain text if it is not)."""
        if not self._budget.admit(len(raw), self):
            return
        try:
            event = _decoder.decode(raw)
        except msgspec.MsgspecError:
            event = {"level": "info", "event": raw.decode(errors="replace"), "logger": "task"}
        self._budget.written += self._write(event)

    def output(self, raw: bytes, *, stream: str) -> None:
        """Write a line the task printed to stdout or stderr."""
        if not self._budget.admit(len(raw), self):
            return
        level = "error" if stream == "stderr" else "info"
        event = {"level": level, "event": raw.decode(errors="replace"), "logger": f"task.{stream}"}
        self._budget.written += self._write(event)

    def supervisor(self, level: str, event: str, **fields: Any) -> None:
        """Write one of the supervisor's own lines."""
        self._write({"level": level, "event": event, "logger": "airlock.supervisor", **fields})

    @property
    def dropped_bytes(self) -> int:
        """Bytes of the task's output dropped because the log reached its cap."""
        return self._budget.dropped_bytes

    def close(self) -> None:
        """Write the count of dropped output, if any, and close the file."""
        if self._budget.dropped_lines and not self._file.closed:
            self.supervisor(
                "warning",
                f"{self._budget.dropped_lines} lines ({self._budget.dropped_bytes} bytes) of task "
                f"output were dropped: the log of a try keeps at most {self._budget.limit} bytes "
                "of it (setting max_log_bytes_per_try)",
                dropped_lines=self._budget.dropped_lines,
                dropped_bytes=self._budget.dropped_bytes,
            )
        self._file.close()

    def _write(self, event: dict[str, Any]) -> int:
        """Mask and append one event; return the bytes written."""
        event.setdefault("timestamp", datetime.now(UTC).isoformat())
        line = _encoder.encode(self._masker.redact_data(event)) + b"\n"
        self._file.write(line)
        return len(line)


class _LogBudget:
    """How much of a try's own output its log still takes."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.written = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0

    def admit(self, size: int, sink: TaskLogSink) -> bool:
        """Whether a line of ``size`` bytes still fits (the first refusal writes a notice).

        The caller adds what it then wrote (the line as JSON) to :attr:`written`.
        """
        if self.limit is None or self.written + size <= self.limit:
            return True
        if not self.dropped_lines:
            sink.supervisor(
                "warning",
                f"the task's output reached {self.limit} bytes, the most a try's log keeps "
                "(setting max_log_bytes_per_try): further output is dropped",
            )
        self.dropped_lines += 1
        self.dropped_bytes += size
        return False


def split_lines(buffer: bytearray, data: bytes) -> list[bytes]:
    """Append ``data`` to ``buffer`` and take out every complete line (without its newline).

    A partial line longer than ``MAX_LINE_BYTES`` is taken out in pieces of that size, each
    marked as cut; the rest of it stays in the buffer.
    """
    buffer.extend(data)
    *complete, rest = buffer.split(b"\n")
    lines = [bytes(line) for line in complete]
    buffer[:] = rest
    while len(buffer) > MAX_LINE_BYTES:
        lines.append(bytes(buffer[:MAX_LINE_BYTES]) + b" [line cut at 64 KiB]")
        del buffer[:MAX_LINE_BYTES]
    return lines
