"""What the control-plane commands share: the database they act on, and how they print.

Every listing prints a table for people, or with ``--json`` one JSON document (a list of
objects, or an object) on stdout for scripts; datetimes are ISO 8601 strings in UTC.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence

    from sqlalchemy.orm import Session, sessionmaker

    from airlock.settings import Settings


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` to a command."""
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


@contextlib.contextmanager
def database(settings: Settings | None = None) -> Iterator[sessionmaker[Session]]:
    """Open the configured database (see :func:`airlock.db.connect.open_database`)."""
    from airlock.db.connect import open_database  # noqa: PLC0415 -- keep the CLI's start fast
    from airlock.db.engine import make_session_factory  # noqa: PLC0415
    from airlock.settings import Settings  # noqa: PLC0415

    engine = open_database(settings or Settings.load())
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def jsonable(value: Any) -> Any:
    """Make ``value`` printable as JSON: datetimes become ISO strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, as_json: bool) -> None:
    """Print ``rows`` as JSON or as a table of ``columns``."""
    if as_json:
        emit_json(list(rows))
        return
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    Console(highlight=False).print(table)


def emit_json(value: Any) -> None:
    """Print one JSON document."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)
