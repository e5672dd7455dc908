"""``airlock dags ...``: run a DAG file locally (``dags test``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from airlock.cli import dag_admin
from airlock.cli.arg_types import iso_datetime, json_object, positive_int
from airlock.cli.progress import ProgressPrinter, print_summary
from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    import argparse

    from airlock.local_run import RunReport

EXIT_FAILED = 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dags`` and its subcommands."""
    dags = commands.add_parser("dags", help="work with DAGs")
    sub = dags.add_subparsers(dest="dags_command", required=True, metavar="COMMAND")
    test = sub.add_parser(
        "test",
        help="run one DAG end to end on this machine",
        description="Run every task of a DAG through supervisor, runner and Execution API, "
        "on a fresh SQLite database (or AIRLOCK_DATABASE_URL). Exit 0 if the run succeeded, "
        "1 if it failed, 2 if it could not start.",
    )
    test.add_argument("dag_file", type=Path, help="the DAG file")
    test.add_argument("--dag-id", help="the DAG to run, when the file defines several")
    test.add_argument(
        "--logical-date", type=iso_datetime, help="ISO date or datetime (default: now, UTC)"
    )
    test.add_argument("--conf", type=json_object, default={}, help="run conf as a JSON object")
    test.add_argument("--json", type=Path, dest="json_report", help="write a JSON report here")
    test.add_argument(
        "--parallelism",
        type=positive_int,
        default=os.cpu_count() or 2,
        help="task instances running at once (default: the number of cores)",
    )
    test.add_argument(
        "--api",
        choices=["in-process", "http"],
        default="in-process",
        help="serve the Execution API in-process (default) or over HTTP on a loopback port",
    )
    test.add_argument(
        "--compat",
        choices=["airflow"],
        help="run a DAG file written for Apache Airflow 3 unchanged: its airflow imports get "
        "airlock's objects (refused when a real Airflow is installed here)",
    )
    test.add_argument("--quiet", action="store_true", help="print only the summary")
    test.set_defaults(handler=run_dags_test)
    dag_admin.register(sub)


def run_dags_test(args: argparse.Namespace) -> int:
    """Handle ``airlock dags test``."""
    from airlock.local_run import LocalDagRun, LocalRunOptions  # noqa: PLC0415 -- heavy imports
    from airlock.settings import Settings  # noqa: PLC0415

    if not args.dag_file.is_file():
        raise ConfigError(f"{args.dag_file}: no such file")
    options = LocalRunOptions(
        dag_file=args.dag_file,
        dag_id=args.dag_id,
        logical_date=args.logical_date,
        conf=args.conf,
        parallelism=args.parallelism,
        api=args.api,
        compat=args.compat,
    )
    progress = ProgressPrinter(quiet=args.quiet)
    report = LocalDagRun(options, Settings.from_env(), on_change=progress).run()
    print_summary(report)
    if args.json_report is not None:
        _write_report(args.json_report, report)
    return 0 if report.succeeded else EXIT_FAILED


def _write_report(path: Path, report: RunReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
