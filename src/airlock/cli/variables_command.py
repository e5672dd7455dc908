"""``airlock variables list|get|set|delete|import|export``: Variables in the configured database.

The database is ``AIRLOCK_DATABASE_URL`` (or ``airlock.toml``), else the SQLite file
``$AIRLOCK_HOME/airlock.db``. The import/export format is Airflow's: one JSON object mapping each
key to its value (a JSON value is written as such, anything else as a string), or to
``{"value": ..., "description": ...}`` when the Variable has a description.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from airlock.cli.output import add_json_flag, database, emit, emit_json
from airlock.db.models import Variable
from airlock.exceptions import ConfigError
from airlock.server.upsert import upsert

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

EXIT_MISSING = 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``variables`` and its subcommands."""
    variables = commands.add_parser("variables", help="manage Variables")
    sub = variables.add_subparsers(dest="variables_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list the Variables' keys (values are not printed)")
    add_json_flag(listing)
    listing.set_defaults(handler=list_variables)
    getting = sub.add_parser("get", help="print a Variable's value (exit 1 if absent)")
    getting.add_argument("key")
    getting.add_argument("--default", help="print this instead when the Variable is absent")
    getting.add_argument("--json", action="store_true", help="parse the value as JSON, print it")
    getting.set_defaults(handler=get_variable)
    setting = sub.add_parser("set", help="create or replace a Variable")
    setting.add_argument("key")
    setting.add_argument("value")
    setting.add_argument("--description")
    setting.add_argument("--json", action="store_true", help="check the value is valid JSON")
    setting.set_defaults(handler=set_variable)
    deleting = sub.add_parser("delete", help="delete a Variable")
    deleting.add_argument("key")
    deleting.set_defaults(handler=delete_variable)
    importing = sub.add_parser("import", help="create or replace Variables from a JSON file")
    importing.add_argument("file", type=Path)
    importing.add_argument(
        "--action-on-existing-key",
        choices=["overwrite", "fail", "skip"],
        default="overwrite",
        help="what to do with a key that exists already (default: overwrite)",
    )
    importing.set_defaults(handler=import_variables)
    exporting = sub.add_parser("export", help="write every Variable to a JSON file ('-': stdout)")
    exporting.add_argument("file")
    exporting.set_defaults(handler=export_variables)


def list_variables(args: argparse.Namespace) -> int:
    """Handle ``airlock variables list``."""
    with database() as sessions, sessions() as session:
        rows = [
            {"key": key, "description": description}
            for key, description in session.execute(
                select(Variable.key, Variable.description).order_by(Variable.key)
            )
        ]
    emit(rows, ("key", "description"), as_json=args.json)
    return 0


def get_variable(args: argparse.Namespace) -> int:
    """Handle ``airlock variables get``."""
    with database() as sessions, sessions() as session:
        value = session.scalar(select(Variable.value).where(Variable.key == args.key))
    if value is None:
        if args.default is None:
            print(f"Variable {args.key!r} does not exist", file=sys.stderr)  # noqa: T201 -- CLI
            return EXIT_MISSING
        value = args.default
    if args.json:
        emit_json(_parse_json(args.key, value))
    else:
        sys.stdout.write(value + "\n")
    return 0


def set_variable(args: argparse.Namespace) -> int:
    """Handle ``airlock variables set``."""
    if args.json:
        _parse_json(args.key, args.value)
    with database() as sessions, sessions.begin() as session:
        store(session, args.key, args.value, args.description)
    print(f"Variable {args.key!r} set")  # noqa: T201 -- CLI output
    return 0


def delete_variable(args: argparse.Namespace) -> int:
    """Handle ``airlock variables delete``."""
    with database() as sessions, sessions.begin() as session:
        query = delete(Variable).where(Variable.key == args.key)
        deleted = session.connection().execute(query).rowcount
    if not deleted:
        print(f"Variable {args.key!r} does not exist", file=sys.stderr)  # noqa: T201 -- CLI
        return EXIT_MISSING
    print(f"Variable {args.key!r} deleted")  # noqa: T201 -- CLI output
    return 0


def import_variables(args: argparse.Namespace) -> int:
    """Handle ``airlock variables import``."""
    entries = read_variables_file(args.file)
    written = skipped = 0
    with database() as sessions, sessions.begin() as session:
        existing = set(session.scalars(select(Variable.key)))
        for key, (value, description) in entries.items():
            if key in existing and args.action_on_existing_key == "fail":
                raise ConfigError(f"Variable {key!r} exists already; nothing was imported")
            if key in existing and args.action_on_existing_key == "skip":
                skipped += 1
                continue
            store(session, key, value, description)
            written += 1
    print(f"{written} Variables imported, {skipped} skipped")  # noqa: T201 -- CLI output
    return 0


def export_variables(args: argparse.Namespace) -> int:
    """Handle ``airlock variables export``."""
    with database() as sessions, sessions() as session:
        variables = list(session.scalars(select(Variable).order_by(Variable.key)))
    document = {v.key: _exported(v) for v in variables}
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text)
        print(f"{len(document)} Variables exported to {args.file}")  # noqa: T201 -- CLI output
    return 0


def store(session: Session, key: str, value: str, description: str | None) -> None:
    """Create or replace the Variable ``key``."""
    row = {"key": key, "value": value, "description": description}
    upsert(session, Variable, row, key=("key",))


def read_variables_file(path: Path) -> dict[str, tuple[str, str | None]]:
    """Read an Airflow variables file: ``{key: value}`` or ``{key: {value, description}}``.

    Raises:
        ConfigError: the file is missing or is not such a JSON object.
    """
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read a JSON object of Variables: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a JSON object mapping keys to values")
    return {str(key): _imported(item) for key, item in document.items()}


def _imported(item: Any) -> tuple[str, str | None]:
    description = None
    if isinstance(item, dict) and "value" in item and set(item) <= {"value", "description"}:
        description = item.get("description")
        item = item["value"]
    return (item if isinstance(item, str) else json.dumps(item)), description


def _exported(variable: Variable) -> Any:
    try:
        value: Any = json.loads(variable.value)
    except json.JSONDecodeError:
        value = variable.value
    if variable.description:
        return {"value": value, "description": variable.description}
    return value


def _parse_json(key: str, value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Variable {key!r} is not valid JSON: {exc}") from None
