"""``airlock celery worker``: run a Celery worker that supervises airlock's workloads."""

from __future__ import annotations

import argparse
from typing import Final

from airlock.cli.arg_types import positive_int

POOLS: Final = ("threads", "prefork", "solo")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``celery`` and its subcommands."""
    celery = commands.add_parser("celery", help="run the Celery executor's workers")
    sub = celery.add_subparsers(dest="celery_command", required=True, metavar="COMMAND")
    worker = sub.add_parser(
        "worker",
        help="consume workloads from Celery queues and run each through a supervisor",
        description="Consume workloads from the broker (AIRLOCK_CELERY_BROKER_URL) and run "
        "each try through a supervisor that reaches the Execution API at "
        "AIRLOCK_API_BASE_URL. Stop it with SIGTERM: it finishes its running tries first.",
    )
    worker.add_argument(
        "--queues",
        "-q",
        type=_queue_list,
        default=("default",),
        help="comma-separated Celery queues to consume (default: default)",
    )
    worker.add_argument(
        "--concurrency",
        "-c",
        type=positive_int,
        help="tries run at once (default: the parallelism setting)",
    )
    worker.add_argument(
        "--pool",
        choices=POOLS,
        default="threads",
        help="threads: one supervisor serves every try of the worker (default); prefork: one "
        "per pool process; solo: one try at a time",
    )
    worker.add_argument("--name", "-n", help="node name (default: airlock-<pid>@<host>)")
    worker.add_argument("--loglevel", "-l", default="INFO", help="log level (default: INFO)")
    worker.add_argument("--logfile", "-f", help="log to this file instead of stderr")
    worker.add_argument(
        "--api-url", help="the Execution API's root URL (default: the api_base_url setting)"
    )
    worker.set_defaults(handler=run_celery_worker)


def run_celery_worker(args: argparse.Namespace) -> int:
    """Handle ``airlock celery worker``."""
    # Celery and the supervisor are heavy: imported only by the command that uses them.
    from airlock.executors.celery_worker import (  # noqa: PLC0415
        CeleryWorkerOptions,
        start_worker,
    )
    from airlock.settings import Settings  # noqa: PLC0415

    settings = Settings.load()
    options = CeleryWorkerOptions(
        queues=args.queues,
        concurrency=args.concurrency or settings.parallelism,
        pool=args.pool,
        name=args.name,
        loglevel=args.loglevel.upper(),
        logfile=args.logfile,
        api_url=args.api_url,
    )
    return start_worker(settings, options)


def _queue_list(text: str) -> tuple[str, ...]:
    queues = tuple(name.strip() for name in text.split(",") if name.strip())
    if not queues:
        raise argparse.ArgumentTypeError(f"{text!r} names no queue: give e.g. default,etl")
    return queues
