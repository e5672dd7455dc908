"""Structured logs of the long-running services (API server, scheduler, workers): JSON lines.

Each service writes one JSON object per line to stderr: ``timestamp`` (UTC, ISO 8601),
``level``, ``logger``, ``event`` and the event's own keys. Standard-library ``logging`` records
of airlock's modules go through the same renderer, so a deployment's log collector parses
everything the same way. Nothing here ever receives a token or the signing key.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

_PROCESSORS: list[Any] = [
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
    structlog.processors.JSONRenderer(sort_keys=False),
]


def service_logger(name: str, stream: TextIO | None = None) -> Any:
    """Return a structlog logger that writes JSON lines with ``logger=name`` to ``stream``."""
    out = stream or sys.stderr
    logger = structlog.wrap_logger(structlog.PrintLogger(file=out), processors=list(_PROCESSORS))
    return logger.bind(logger=name)


class _JsonHandler(logging.Handler):
    """Sends standard-library log records through the JSON renderer."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            logger = service_logger(record.name, self._stream)
            method = getattr(logger, record.levelname.lower(), logger.info)
            exc_info = record.exc_info or False
            method(record.getMessage(), exc_info=exc_info)
        except Exception:  # noqa: BLE001 -- logging must never raise
            self.handleError(record)


def configure_service_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Route the ``airlock`` loggers to JSON lines on ``stream`` (stderr by default)."""
    root = logging.getLogger("airlock")
    for handler in list(root.handlers):
        if isinstance(handler, _JsonHandler):
            root.removeHandler(handler)
    root.addHandler(_JsonHandler(stream or sys.stderr))
    root.setLevel(level)
    root.propagate = False
