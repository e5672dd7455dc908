"""The runner's structured log channel: one JSON object per line on a pipe to the supervisor.

Task code logs with the standard ``logging`` module (``self.log`` on operators, or any logger);
the runner installs ``ChannelHandler`` on the root logger, which writes each record as
``{"timestamp", "level", "event", "logger", ["error_detail"]}``. The supervisor reads the lines,
masks secrets and writes them to the task instance's log file. Nothing task code does to
stdout or stderr can reach this channel, and nothing on it can reach the protocol socket.
"""

from __future__ import annotations

import logging
import os
import traceback
from datetime import UTC, datetime
from typing import Final

import msgspec

LOG_FD_ENV: Final = "AIRLOCK_LOG_FD"
"""Environment variable through which the runner learns its log channel's file descriptor."""

_encoder = msgspec.json.Encoder()


class ChannelHandler(logging.Handler):
    """A logging handler writing records as JSON lines to a file descriptor."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` as one JSON line."""
        try:
            line = _encoder.encode(_as_event(record)) + b"\n"
            _write_all(self._fd, line)
        except Exception:  # noqa: BLE001 -- logging must never raise into task code
            self.handleError(record)


def _as_event(record: logging.LogRecord) -> dict[str, object]:
    event: dict[str, object] = {
        "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
        "level": record.levelname.lower(),
        "event": record.getMessage(),
        "logger": record.name,
    }
    if record.exc_info and record.exc_info[1] is not None:
        event["error_detail"] = "".join(traceback.format_exception(*record.exc_info))
    return event


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def install(fd: int, level: int = logging.INFO) -> None:
    """Send every log record of this process to the channel on ``fd``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(ChannelHandler(fd))
    root.setLevel(level)
