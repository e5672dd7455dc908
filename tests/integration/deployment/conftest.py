"""A deployment in one test: database, Execution API, scheduler and local workers.

The API runs in-process (``httpx.ASGITransport``) for workers in the test's event loop, or on a
loopback port (``api_url()``) for workers in their own processes. The scheduler's clock is the
real time shifted by ``clock.offset``, or frozen at ``clock.frozen``. The database is a SQLite
file, or a fresh PostgreSQL schema under ``--db postgres``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select
from tests.integration.conftest import DAG_HEADER

from airlock.db.connect import open_database
from airlock.db.engine import make_session_factory
from airlock.db.models import DagRun, TaskInstance, TaskInstanceHistory
from airlock.executors.local import LocalExecutor
from airlock.executors.local_worker import LocalWorker
from airlock.scheduling.scheduler import Scheduler
from airlock.server.app import create_app
from airlock.server.embedded import EmbeddedServer
from airlock.server.signing_key import load_signing_key, signer_from_settings
from airlock.server.worker_auth import WorkerCredentials
from airlock.settings import Settings

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airlock.execution.workload import ExecuteTask
    from airlock.scheduling.scheduler import LoopReport


@dataclass
class Clock:
    """The scheduler's time: frozen, or the real time shifted by ``offset``."""

    frozen: datetime | None = None
    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        """The current time as the scheduler sees it."""
        return self.frozen or datetime.now(UTC) + self.offset


@dataclass
class RecordingExecutor(LocalExecutor):
    """A local executor that also remembers every workload the scheduler sent."""

    sent: list[ExecuteTask] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, workload: ExecuteTask, *, queue: str) -> None:
        """Remember the workload."""
        super().send(workload, queue=queue)
        self.sent.append(workload)


class Deployment:
    """Everything a deployment has, in one object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = open_database(settings, migrate=True)
        self.sessions = make_session_factory(self.engine)
        self.signer = signer_from_settings(settings)
        self.credentials = WorkerCredentials(load_signing_key(settings))
        self.app = create_app(
            session_factory=self.sessions, signer=self.signer, worker_credentials=self.credentials
        )
        self.clock = Clock()
        self.executor = RecordingExecutor()
        self.scheduler = Scheduler(
            settings, self.sessions, signer=self.signer, executor=self.executor, clock=self.clock
        )
        self.scheduler.ensure_default_pool()
        self._server: EmbeddedServer | None = None
        self._worker_logs: dict[int, Path] = {}
        # Not asyncio's default executor, which asyncio.run would wait for if a call hung.
        self._threads = ThreadPoolExecutor(1, thread_name_prefix="scheduler")
        self._base_url: str | None = None

    def write_dag(self, body: str, name: str = "dag_under_test.py") -> Path:
        """Write a DAG file (with the common imports) into the DAGs folder."""
        path = self.settings.dags_folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DAG_HEADER + textwrap.dedent(body))
        return path

    def scan(self) -> None:
        """Parse the DAGs folder now."""
        self.scheduler.processor.scan()

    def loop(self) -> LoopReport:
        """Run one scheduler loop."""
        return self.scheduler.loop_once()

    def credential(self, name: str = "test-worker") -> str:
        """A worker credential."""
        return self.credentials.mint(name, lifetime=3600)

    def worker(self, *, parallelism: int = 8, queues: list[str] | None = None) -> LocalWorker:
        """A local worker in the test's event loop, talking to the API over loopback HTTP.

        Real HTTP, not ``httpx.ASGITransport``: with the latter, a supervisor cancelling an
        in-flight heartbeat cancels the route itself mid-transaction.
        """
        return LocalWorker(
            self.settings,
            credential=self.credential(),
            queues=queues or ["default"],
            parallelism=parallelism,
            api_url=self.api_url(),
        )

    def run_until(
        self,
        done: Callable[[], bool],
        *,
        timeout: float = 60.0,
        workers: list[LocalWorker] | None = None,
    ) -> None:
        """Loop the scheduler (and run in-process workers) until ``done()`` or the timeout."""
        asyncio.run(self._run_until(done, timeout, [self.worker()] if workers is None else workers))

    async def _run_until(
        self, done: Callable[[], bool], limit: float, workers: list[LocalWorker]
    ) -> None:
        tasks = [asyncio.create_task(worker.run()) for worker in workers]
        deadline = time.monotonic() + limit
        loop = asyncio.get_running_loop()
        try:
            while not await loop.run_in_executor(self._threads, done):
                if time.monotonic() > deadline:
                    pytest.fail(f"not done after {limit}s: {self.ti_states()}")
                report = await loop.run_in_executor(self._threads, self.loop)
                if not report.busy:
                    await asyncio.sleep(self.settings.scheduler_loop_interval)
        finally:
            for worker in workers:
                worker.stop()
            await asyncio.gather(*tasks)

    def api_url(self) -> str:
        """Serve the API on a loopback port (once) and return its URL."""
        if self._base_url is None:
            self._server = EmbeddedServer(self.app)
            self._base_url = self._server.start()
        return self._base_url

    def worker_env(self, **extra: str) -> dict[str, str]:
        """The environment of a worker process for this deployment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        token_file = self.settings.home / f"worker-token-{len(extra)}"
        token_file.write_text(self.credential())
        token_file.chmod(0o600)
        env |= {
            "AIRLOCK_HOME": str(self.settings.home),
            "AIRLOCK_API_BASE_URL": self.api_url(),
            "AIRLOCK_WORKER_TOKEN_FILE": str(token_file),
            "AIRLOCK_HEARTBEAT_INTERVAL": str(self.settings.heartbeat_interval),
            "AIRLOCK_HEARTBEAT_TIMEOUT": str(self.settings.heartbeat_timeout),
            "AIRLOCK_WORKER_POLL_INTERVAL": str(self.settings.worker_poll_interval),
            "AIRLOCK_KILL_GRACE_PERIOD": str(self.settings.kill_grace_period),
            "AIRLOCK_WORKER_SHUTDOWN_GRACE": str(self.settings.worker_shutdown_grace),
            "AIRLOCK_API_RETRIES": "3",
            **extra,
        }
        return env

    def worker_process(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start ``airlock worker`` in its own process against this deployment's API.

        Its output goes to ``<home>/worker-<pid>.log`` (see :meth:`worker_log`).
        """
        import subprocess  # noqa: PLC0415

        log = self.settings.home / f"worker-{time.monotonic_ns()}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "airlock.cli.main", "worker", *args],
                env=self.worker_env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._worker_logs[proc.pid] = log
        return proc

    def worker_log(self, proc: subprocess.Popen[bytes]) -> str:
        """What a worker process printed."""
        return self._worker_logs[proc.pid].read_text()

    def runs(self, dag_id: str) -> list[DagRun]:
        """The runs of ``dag_id``, oldest logical date first."""
        with self.sessions() as session:
            query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date)
            return list(session.scalars(query))

    def tis(self, dag_id: str | None = None) -> list[TaskInstance]:
        """The live task instances."""
        query = select(TaskInstance)
        if dag_id is not None:
            query = query.where(TaskInstance.dag_id == dag_id)
        with self.sessions() as session:
            return list(session.scalars(query))

    def history(self, dag_id: str) -> list[TaskInstanceHistory]:
        """The archived tries of ``dag_id``."""
        with self.sessions() as session:
            query = select(TaskInstanceHistory).where(TaskInstanceHistory.dag_id == dag_id)
            return list(session.scalars(query))

    def ti_states(self) -> dict[str, int]:
        """How many live task instances are in each state."""
        return dict(Counter(str(ti.state) for ti in self.tis()))

    def run_finished(self, dag_id: str) -> Callable[[], bool]:
        """A ``done`` condition: every run of ``dag_id`` finished (and there is one)."""

        def finished() -> bool:
            runs = self.runs(dag_id)
            return bool(runs) and all(run.state in {"success", "failed"} for run in runs)

        return finished

    def close(self) -> None:
        """Stop the API server and close the database."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._server is not None:
            self._server.stop()
        self.engine.dispose()


def deployment_settings(tmp_path: Path, **changes: Any) -> Settings:
    """Fast settings for a deployment in ``tmp_path``."""
    values: dict[str, Any] = {
        "home": tmp_path / "airlock-home",
        "dags_folder": tmp_path / "dags",
        "heartbeat_interval": 0.2,
        "heartbeat_timeout": 30.0,
        "kill_grace_period": 1.0,
        "api_retries": 2,
        "scheduler_loop_interval": 0.05,
        "worker_poll_interval": 0.05,
        "worker_shutdown_grace": 5.0,
        "parsing_processes": 4,
    }
    return Settings(**(values | changes))


@pytest.fixture
def make_deployment(
    tmp_path: Path, database_url: str | None
) -> Iterator[Callable[..., Deployment]]:
    """Build a deployment with some settings changed; everything is closed afterwards."""
    made: list[Deployment] = []

    def make(**changes: Any) -> Deployment:
        changes.setdefault("database_url", database_url)
        made.append(Deployment(deployment_settings(tmp_path, **changes)))
        return made[-1]

    yield make
    for deployment in made:
        deployment.close()


@pytest.fixture
def deployment(make_deployment: Callable[..., Deployment]) -> Deployment:
    """A deployment with the default fast settings."""
    return make_deployment()
