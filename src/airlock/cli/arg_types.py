"""Argument types shared by the CLI's commands: each turns a bad value into a clear usage error."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any


def iso_datetime(text: str) -> datetime:
    """An ISO date or datetime; one without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or datetime") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def json_object(text: str) -> dict[str, Any]:
    """A JSON object (a run's ``--conf``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--conf is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--conf must be a JSON object")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
