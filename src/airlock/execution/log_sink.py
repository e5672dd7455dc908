"""One task instance try's log file: JSON lines from every channel, masked, in arrival order.

Three sources feed it: the runner's structured log channel (already JSON), the runner's stdout
(logged at ``info`` as logger ``task.stdout``) and stderr (``error``, ``task.stderr``), and the
supervisor's own lines (logger ``airlock.supervisor``). Every line goes through the secrets
masker before it reaches the disk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    from pathlib import Path

    from airlock.execution.masking import SecretsMasker

MAX_LINE_BYTES: Final = 64 * 1024
"""A longer line from a task is cut (and marked), so one line cannot exhaust memory."""

_decoder = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def log_relative_path(
    dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> str:
    """Where a try's log lives, relative to the logs folder."""
    mapped = f"/map_index={map_index}" if map_index >= 0 else ""
    return f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}{mapped}/attempt={try_number}.log"


class TaskLogSink:
    """Appends masked JSON log lines to one file."""

    def __init__(self, path: Path, masker: SecretsMasker) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("ab", buffering=0)
        self._masker = masker

    def structured(self, raw: bytes) -> None:
        """Write a line from the runner's log channel (JSON, or plain text if it is not)."""
        try:
            event = _decoder.decode(raw)
        except msgspec.MsgspecError:
            event = {"level": "info", "event": raw.decode(errors="replace"), "logger": "task"}
        self._write(event)

    def output(self, raw: bytes, *, stream: str) -> None:
        """Write a line the task printed to stdout or stderr."""
        level = "error" if stream == "stderr" else "info"
        self._write(
            {"level": level, "event": raw.decode(errors="replace"), "logger": f"task.{stream}"}
        )

    def supervisor(self, level: str, event: str, **fields: Any) -> None:
        """Write one of the supervisor's own lines."""
        self._write({"level": level, "event": event, "logger": "airlock.supervisor", **fields})

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def _write(self, event: dict[str, Any]) -> None:
        event.setdefault("timestamp", datetime.now(UTC).isoformat())
        line = self._masker.redact(_encoder.encode(event).decode())
        self._file.write(line.encode() + b"\n")


def split_lines(buffer: bytearray, data: bytes) -> list[bytes]:
    """Append ``data`` to ``buffer`` and take out every complete line (without its newline).

    A partial line longer than ``MAX_LINE_BYTES`` is taken out as it is, marked as cut.
    """
    buffer.extend(data)
    *complete, rest = buffer.split(b"\n")
    lines = [bytes(line) for line in complete]
    buffer[:] = rest
    if len(buffer) > MAX_LINE_BYTES:
        lines.append(bytes(buffer[:MAX_LINE_BYTES]) + b" [line cut at 64 KiB]")
        buffer.clear()
    return lines
