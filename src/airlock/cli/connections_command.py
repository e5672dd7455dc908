"""``airlock connections list|get|add|delete|import|export``: Connections in the database.

The database is ``AIRLOCK_DATABASE_URL`` (or ``airlock.toml``), else the SQLite file
``$AIRLOCK_HOME/airlock.db``. ``list`` never prints passwords, and ``get`` masks them unless
``--show-secrets`` is given. The import/export format is Airflow's JSON: one object mapping each
conn_id to ``{conn_type, description, host, login, password, schema, port, extra}``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from airlock.cli.output import add_json_flag, database, emit, emit_json
from airlock.db.models import Connection as ConnectionRow
from airlock.definitions.connection import Connection
from airlock.exceptions import ConfigError
from airlock.execution.masking import MASK
from airlock.server.upsert import upsert

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

EXIT_MISSING = 1
_LIST_COLUMNS = ("conn_id", "conn_type", "host", "port", "schema", "login", "description")
_FIELDS = ("conn_type", "description", "host", "schema", "login", "password", "port", "extra")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``connections`` and its subcommands."""
    conns = commands.add_parser("connections", help="manage Connections")
    sub = conns.add_subparsers(dest="connections_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list the Connections (never their passwords)")
    add_json_flag(listing)
    listing.set_defaults(handler=list_connections)
    getting = sub.add_parser("get", help="print a Connection (exit 1 if absent)")
    getting.add_argument("conn_id")
    getting.add_argument("--show-secrets", action="store_true", help="print the password too")
    add_json_flag(getting)
    getting.set_defaults(handler=get_connection)
    adding = sub.add_parser("add", help="create or replace a Connection")
    adding.add_argument("conn_id")
    how = adding.add_mutually_exclusive_group()
    how.add_argument("--conn-uri", help="the whole connection as a URI")
    how.add_argument("--conn-json", help="the whole connection as a JSON object")
    for name in _FIELDS:
        flag = "--conn-type" if name == "conn_type" else f"--conn-{name}"
        adding.add_argument(flag, dest=f"conn_{name}", help=f"the connection's {name}")
    adding.set_defaults(handler=add_connection)
    deleting = sub.add_parser("delete", help="delete a Connection")
    deleting.add_argument("conn_id")
    deleting.set_defaults(handler=delete_connection)
    importing = sub.add_parser("import", help="create or replace Connections from a JSON file")
    importing.add_argument("file", type=Path)
    importing.add_argument("--overwrite", action="store_true", help="replace existing ones")
    importing.set_defaults(handler=import_connections)
    exporting = sub.add_parser("export", help="write every Connection to a JSON file ('-': stdout)")
    exporting.add_argument("file")
    exporting.set_defaults(handler=export_connections)


def list_connections(args: argparse.Namespace) -> int:
    """Handle ``airlock connections list``."""
    with database() as sessions, sessions() as session:
        rows = [
            {column: getattr(row, column) for column in _LIST_COLUMNS}
            for row in session.scalars(select(ConnectionRow).order_by(ConnectionRow.conn_id))
        ]
    emit(rows, _LIST_COLUMNS, as_json=args.json)
    return 0


def get_connection(args: argparse.Namespace) -> int:
    """Handle ``airlock connections get``."""
    with database() as sessions, sessions() as session:
        row = session.get(ConnectionRow, args.conn_id)
    if row is None:
        print(f"Connection {args.conn_id!r} is not defined", file=sys.stderr)  # noqa: T201
        return EXIT_MISSING
    conn = as_connection(row)
    if not args.show_secrets and conn.password:
        conn.password = MASK
    data = {"conn_id": conn.conn_id, **conn.to_dict(), "uri": conn.get_uri()}
    if args.json:
        emit_json(data)
    else:
        emit([data], tuple(data), as_json=False)
    return 0


def add_connection(args: argparse.Namespace) -> int:
    """Handle ``airlock connections add``."""
    conn = connection_from_arguments(args)
    with database() as sessions, sessions.begin() as session:
        store(session, conn)
    print(f"Connection {conn.conn_id!r} added")  # noqa: T201 -- CLI output
    return 0


def delete_connection(args: argparse.Namespace) -> int:
    """Handle ``airlock connections delete``."""
    with database() as sessions, sessions.begin() as session:
        query = delete(ConnectionRow).where(ConnectionRow.conn_id == args.conn_id)
        deleted = session.connection().execute(query).rowcount
    if not deleted:
        print(f"Connection {args.conn_id!r} is not defined", file=sys.stderr)  # noqa: T201
        return EXIT_MISSING
    print(f"Connection {args.conn_id!r} deleted")  # noqa: T201 -- CLI output
    return 0


def import_connections(args: argparse.Namespace) -> int:
    """Handle ``airlock connections import``."""
    conns = read_connections_file(args.file)
    written = skipped = 0
    with database() as sessions, sessions.begin() as session:
        existing = set(session.scalars(select(ConnectionRow.conn_id)))
        for conn in conns:
            if conn.conn_id in existing and not args.overwrite:
                print(f"Connection {conn.conn_id!r} exists; skipped")  # noqa: T201 -- CLI output
                skipped += 1
                continue
            store(session, conn)
            written += 1
    print(f"{written} Connections imported, {skipped} skipped")  # noqa: T201 -- CLI output
    return 0


def export_connections(args: argparse.Namespace) -> int:
    """Handle ``airlock connections export``."""
    with database() as sessions, sessions() as session:
        rows = list(session.scalars(select(ConnectionRow).order_by(ConnectionRow.conn_id)))
    document = {row.conn_id: as_connection(row).to_dict() for row in rows}
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text)
        print(f"{len(document)} Connections exported to {args.file}")  # noqa: T201 -- CLI output
    return 0


def connection_from_arguments(args: argparse.Namespace) -> Connection:
    """Build the Connection ``add`` describes: a URI, a JSON object, or ``--conn-*`` fields.

    Raises:
        ConfigError: neither a URI, JSON, nor ``--conn-type`` was given, or they do not parse.
    """
    given = {name: getattr(args, f"conn_{name}") for name in _FIELDS}
    try:
        if args.conn_uri:
            return Connection.from_uri(args.conn_id, args.conn_uri)
        if args.conn_json:
            return Connection.from_json(args.conn_id, args.conn_json)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"connection {args.conn_id!r}: {exc}") from None
    if not given["conn_type"]:
        raise ConfigError(
            f"connection {args.conn_id!r}: give --conn-uri, --conn-json, or at least --conn-type"
        )
    port = given.pop("port")
    return Connection(conn_id=args.conn_id, port=_port(port), **given)


def read_connections_file(path: Path) -> list[Connection]:
    """Read an Airflow connections export: ``{conn_id: {field: value}}`` (or a list of them).

    Raises:
        ConfigError: the file is missing, is not such JSON, or holds an unknown field.
    """
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read a JSON object of Connections: {exc}") from None
    if isinstance(document, list):
        document = {item.get("conn_id"): item for item in document if isinstance(item, dict)}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a JSON object mapping conn_ids to their fields")
    try:
        return [_from_fields(str(conn_id), item) for conn_id, item in document.items()]
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def store(session: Session, conn: Connection) -> None:
    """Create or replace the Connection's row."""
    row = {f.name: getattr(conn, f.name) for f in fields(conn)}
    upsert(session, ConnectionRow, row, key=("conn_id",))


def as_connection(row: ConnectionRow) -> Connection:
    """The stored row as a :class:`~airlock.definitions.connection.Connection`."""
    return Connection(conn_id=row.conn_id, **{name: getattr(row, name) for name in _FIELDS})


def _from_fields(conn_id: str, item: Any) -> Connection:
    if not isinstance(item, dict):
        raise TypeError(f"connection {conn_id!r}: expected an object of fields")
    data = {key: value for key, value in item.items() if key != "conn_id"}
    return Connection.from_json(conn_id, json.dumps(data))


def _port(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--conn-port must be a whole number, not {value!r}") from None
