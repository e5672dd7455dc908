"""``airlock``: the command line. Each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from airlock.cli import dags_command, tasks_command
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
