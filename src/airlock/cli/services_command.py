"""The services: ``airlock api-server``, ``scheduler``, ``worker``, and ``worker-token``.

``worker-token`` mints a worker's credential; it runs where the signing key is.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from airlock.cli.arg_types import positive_int

if TYPE_CHECKING:
    import argparse

    from airlock.settings import Settings

DAY = 86_400.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the service commands."""
    api = commands.add_parser("api-server", help="serve the Execution API (uvicorn)")
    api.add_argument("--host", help="address to listen on (default: api_host, 127.0.0.1)")
    api.add_argument("--port", type=int, help="port to listen on (default: api_port, 8080)")
    api.add_argument("--workers", type=positive_int, help="uvicorn worker processes")
    api.set_defaults(handler=run_api_server)
    scheduler = commands.add_parser("scheduler", help="parse DAG files, create and queue runs")
    scheduler.add_argument("--dags-folder", type=Path, help="default: dags_folder (./dags)")
    scheduler.set_defaults(handler=run_scheduler)
    worker = commands.add_parser("worker", help="claim queued tries and run them here")
    worker.add_argument("--executor", choices=["local"], default="local")
    worker.add_argument("--parallelism", type=positive_int, help="tries at once (parallelism)")
    worker.add_argument("--queues", default="default", help="comma-separated (default: default)")
    worker.set_defaults(handler=run_worker)
    token = commands.add_parser(
        "worker-token", help="mint a worker credential (run where the signing key is)"
    )
    token.add_argument("--name", default="worker", help="the worker's name, shown in claims")
    token.add_argument("--days", type=float, default=365.0, help="validity (default: 365)")
    token.add_argument("--output", type=Path, help="write it here, mode 0600 (default: print)")
    token.set_defaults(handler=mint_worker_token)


def run_api_server(args: argparse.Namespace) -> int:
    """Handle ``airlock api-server``."""
    from airlock.server.service import serve  # noqa: PLC0415 -- heavy imports
    from airlock.settings import Settings  # noqa: PLC0415

    settings = Settings.load()
    serve(
        settings,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=args.workers or settings.api_workers,
    )
    return 0


def run_scheduler(args: argparse.Namespace) -> int:
    """Handle ``airlock scheduler``: loop until SIGTERM or SIGINT."""
    from airlock.cli.output import database  # noqa: PLC0415 -- heavy imports
    from airlock.executors.factory import executor_for  # noqa: PLC0415
    from airlock.scheduling.scheduler import Scheduler  # noqa: PLC0415
    from airlock.server.signing_key import signer_from_settings  # noqa: PLC0415
    from airlock.service_log import configure_service_logging  # noqa: PLC0415

    settings = _settings(dags_folder=args.dags_folder)
    configure_service_logging()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with database(settings) as sessions:
        scheduler = Scheduler(
            settings,
            sessions,
            signer=signer_from_settings(settings),
            executor=executor_for(settings),
        )
        scheduler.run(stop)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    """Handle ``airlock worker``: run until SIGTERM or SIGINT, then stop cleanly."""
    from airlock.execution import event_loop  # noqa: PLC0415
    from airlock.executors.local_worker import LocalWorker, read_credential  # noqa: PLC0415
    from airlock.service_log import configure_service_logging  # noqa: PLC0415

    settings = _settings()
    configure_service_logging()
    worker = LocalWorker(
        settings,
        credential=read_credential(settings),
        queues=[queue.strip() for queue in args.queues.split(",") if queue.strip()],
        parallelism=args.parallelism or settings.parallelism,
    )

    async def serve() -> None:
        worker.install_signal_handlers()
        await worker.run()

    event_loop.run(serve())
    return 0


def mint_worker_token(args: argparse.Namespace) -> int:
    """Handle ``airlock worker-token``."""
    from airlock.server.signing_key import load_signing_key  # noqa: PLC0415
    from airlock.server.worker_auth import WorkerCredentials  # noqa: PLC0415

    credentials = WorkerCredentials(load_signing_key(_settings()))
    token = credentials.mint(args.name, lifetime=args.days * DAY)
    if args.output is None:
        sys.stdout.write(token + "\n")
        return 0
    write_private(args.output, token)
    print(f"worker credential for {args.name!r} written to {args.output}")  # noqa: T201
    return 0


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    path.chmod(0o600)


def _settings(**overrides: object) -> Settings:
    from airlock.settings import Settings  # noqa: PLC0415

    settings = Settings.load()
    changes = {name: value for name, value in overrides.items() if value is not None}
    return settings.with_changes(**changes) if changes else settings
