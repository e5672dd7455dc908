"""``airlock db ...``: migrate, check or reset the configured database."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    import argparse

    from sqlalchemy import Engine

EXIT_DIFFERENT = 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db`` and its subcommands."""
    db = commands.add_parser("db", help="manage the database schema")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    sub.add_parser(
        "migrate", help="bring the schema to this airlock's revision (safe to repeat)"
    ).set_defaults(handler=migrate)
    sub.add_parser(
        "check", help="exit 1 and list the differences if the schema is not current"
    ).set_defaults(handler=check)
    reset = sub.add_parser("reset", help="drop every table and migrate afresh (loses all data)")
    reset.add_argument("--yes", action="store_true", help="confirm: the data is lost")
    reset.set_defaults(handler=reset_database)


def _engine() -> Engine:
    from airlock.db.engine import create_db_engine  # noqa: PLC0415 -- keep the CLI fast
    from airlock.settings import Settings  # noqa: PLC0415

    settings = Settings.load()
    if settings.uses_default_database:
        settings.home.mkdir(parents=True, exist_ok=True)
    return create_db_engine(settings.sql_alchemy_url)


def migrate(_args: argparse.Namespace) -> int:
    """Handle ``airlock db migrate``."""
    from airlock.db.migrate import head_revision, upgrade  # noqa: PLC0415

    engine = _engine()
    upgrade(engine)
    print(f"database at revision {head_revision()}")  # noqa: T201 -- CLI output
    return 0


def check(_args: argparse.Namespace) -> int:
    """Handle ``airlock db check``."""
    from airlock.db import migrate as migration  # noqa: PLC0415

    engine = _engine()
    current, head = migration.current_revision(engine), migration.head_revision()
    problems = [] if current == head else [f"revision {current or '(none)'}, expected {head}"]
    if current is not None:
        problems += migration.check(engine)
    for problem in problems:
        print(problem, file=sys.stderr)  # noqa: T201 -- CLI output
    if problems:
        return EXIT_DIFFERENT
    print(f"database schema is current (revision {head})")  # noqa: T201 -- CLI output
    return 0


def reset_database(args: argparse.Namespace) -> int:
    """Handle ``airlock db reset --yes``."""
    from airlock.db.migrate import reset  # noqa: PLC0415

    if not args.yes:
        raise ConfigError("`airlock db reset` drops every table: add --yes to confirm")
    reset(_engine())
    print("database reset to an empty, current schema")  # noqa: T201 -- CLI output
    return 0
