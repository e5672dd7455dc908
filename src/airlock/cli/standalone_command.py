"""``airlock standalone``: API server, scheduler and a local worker together, for trying things.

It prepares the home folder (database migrated, signing key, a worker credential), starts the
three services as child processes, and stops them all on Ctrl-C or SIGTERM (the worker lets its
running tries finish first, within its grace period). If one service dies, the others are
stopped too and the command exits 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from airlock.cli.services_command import DAY, write_private

if TYPE_CHECKING:
    import argparse

    from airlock.settings import Settings

_HEALTH_TIMEOUT = 30.0
_STOP_MARGIN = 15.0
_CHILD = [sys.executable, "-m", "airlock.cli.main"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``standalone``."""
    standalone = commands.add_parser(
        "standalone", help="run API server, scheduler and a local worker together"
    )
    standalone.add_argument("--dags-folder", type=Path, help="default: ./dags")
    standalone.add_argument("--port", type=int, help="API port (default: api_port, 8080)")
    standalone.add_argument("--parallelism", type=int, help="tries the worker runs at once")
    standalone.set_defaults(handler=run_standalone)


def run_standalone(args: argparse.Namespace) -> int:
    """Handle ``airlock standalone``."""
    from airlock.settings import Settings  # noqa: PLC0415 -- keep the CLI's start fast

    settings = Settings.load()
    env = _prepare(settings, args)
    children: list[subprocess.Popen[bytes]] = []
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: stopping.append(signum))
    try:
        children.append(_start([*_CHILD, "api-server"], env))
        _wait_for_api(env["AIRLOCK_API_BASE_URL"], children[0], stopping)
        children.append(_start([*_CHILD, "scheduler"], env))
        worker = [*_CHILD, "worker"]
        if args.parallelism:
            worker += ["--parallelism", str(args.parallelism)]
        children.append(_start(worker, env))
        _print_banner(env)
        return _watch(children, stopping)
    finally:
        _stop_all(children, settings.worker_shutdown_grace + _STOP_MARGIN)


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a service in its own session: Ctrl-C reaches only us, and we stop it in order."""
    return subprocess.Popen(argv, env=env, start_new_session=True)


def _prepare(settings: Settings, args: argparse.Namespace) -> dict[str, str]:
    from airlock.db.connect import open_database  # noqa: PLC0415 -- heavy imports
    from airlock.server.signing_key import load_signing_key  # noqa: PLC0415
    from airlock.server.worker_auth import WorkerCredentials  # noqa: PLC0415

    home = settings.home.resolve()
    dags = (args.dags_folder or settings.dags_folder).resolve()
    dags.mkdir(parents=True, exist_ok=True)
    open_database(settings, migrate=True).dispose()
    token_file = settings.worker_token_file or home / "worker_token"
    if not token_file.exists():
        credential = WorkerCredentials(load_signing_key(settings))
        write_private(token_file, credential.mint("standalone", lifetime=365 * DAY))
    port = args.port or settings.api_port
    host = settings.api_host
    return {
        **os.environ,
        "AIRLOCK_HOME": str(home),
        "AIRLOCK_DAGS_FOLDER": str(dags),
        "AIRLOCK_WORKER_TOKEN_FILE": str(token_file),
        "AIRLOCK_API_PORT": str(port),
        "AIRLOCK_API_BASE_URL": settings.with_changes(api_port=port).api_url,
        "AIRLOCK_API_HOST": host,
    }


def _wait_for_api(base_url: str, api: subprocess.Popen[bytes], stopping: list[int]) -> None:
    deadline = time.monotonic() + _HEALTH_TIMEOUT
    url = f"{base_url}/execution/api/v1/health"
    while time.monotonic() < deadline and not stopping:
        if api.poll() is not None:
            raise SystemExit(f"airlock standalone: the API server exited with {api.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=1) as answer,  # noqa: S310 -- our own URL
        ):
            if answer.status == 200:  # noqa: PLR2004 -- HTTP OK
                return
        time.sleep(0.2)
    if not stopping:
        raise SystemExit(f"airlock standalone: the API server did not answer at {url}")


def _print_banner(env: dict[str, str]) -> None:
    print(  # noqa: T201 -- CLI output
        f"airlock standalone: API {env['AIRLOCK_API_BASE_URL']}, DAGs folder "
        f"{env['AIRLOCK_DAGS_FOLDER']}, home {env['AIRLOCK_HOME']}. Ctrl-C stops everything.",
        flush=True,
    )


def _watch(children: list[subprocess.Popen[bytes]], stopping: list[int]) -> int:
    while not stopping:
        for child in children:
            if child.poll() is not None:
                service = " ".join(str(arg) for arg in child.args[len(_CHILD) :])  # type: ignore[index]
                print(  # noqa: T201 -- CLI output
                    f"airlock standalone: {service} exited with {child.returncode}; "
                    "stopping the others",
                    file=sys.stderr,
                )
                return 1
        time.sleep(0.2)
    return 0


def _stop_all(children: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Stop the worker, then the scheduler, then the API (which the worker needs to the end)."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
