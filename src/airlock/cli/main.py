"""``airlock``: the command line. Each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from airlock.cli import (
    celery_command,
    connections_command,
    dags_command,
    db_command,
    pools_command,
    render_command,
    runs_command,
    services_command,
    standalone_command,
    tasks_command,
    variables_command,
)
from airlock.exceptions import AirlockError

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="airlock", description="Run data pipelines: Airflow 3's Task SDK, fast and safe."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dags_command.register(commands)
    tasks_command.register(commands)
    render_command.register(commands)
    variables_command.register(commands)
    connections_command.register(commands)
    celery_command.register(commands)
    for deployment_module in (
        db_command,
        services_command,
        standalone_command,
        runs_command,
        pools_command,
    ):
        deployment_module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except AirlockError as exc:
        print(f"airlock: error: {exc}", file=sys.stderr)  # noqa: T201 -- CLI output
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
