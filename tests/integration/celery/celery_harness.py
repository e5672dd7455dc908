"""A multi-process deployment for the Celery tests: API server, scheduler, Celery workers.

Every piece is a real process talking over real sockets, started with the real commands:
``airlock api-server``, ``airlock scheduler`` (with ``executor = celery``), each
``airlock celery worker``; runs are started with ``airlock dags trigger``. The broker is the
machine's Redis or RabbitMQ, the database PostgreSQL. Intervals are short, so that a dead worker
is noticed in seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select
from tests.support import free_port

from airlock.api.models import API_PREFIX
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.db.models import DagModel, DagRun, TaskInstance, TaskInstanceHistory
from airlock.states import FINISHED_RUN_STATES

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

START_TIMEOUT = 30.0
AIRLOCK = [sys.executable, "-m", "airlock.cli.main"]

SETTINGS_ENV = {
    "AIRLOCK_EXECUTOR": "celery",
    "AIRLOCK_HEARTBEAT_INTERVAL": "0.5",
    "AIRLOCK_HEARTBEAT_TIMEOUT": "4",
    "AIRLOCK_KILL_GRACE_PERIOD": "1",
    "AIRLOCK_API_RETRIES": "3",
    "AIRLOCK_CELERY_VISIBILITY_TIMEOUT": "8",
    "AIRLOCK_SCHEDULER_LOOP_INTERVAL": "0.1",
    "AIRLOCK_PARSING_INTERVAL": "1",
}
"""Short intervals: a dead worker's try is noticed in seconds, and Redis redelivers soon after."""


@dataclass
class Deployment:
    """The processes of one test's deployment; ``close`` stops everything started.

    Attributes:
        home: ``AIRLOCK_HOME`` of every process (logs, signing key).
        database_url: the deployment's database.
        broker_url: the Celery broker.
        queue: the Celery queue the test's tasks use by default.
        dags_folder: where the scheduler finds the test's DAG files.
    """

    home: Path
    database_url: str
    broker_url: str
    queue: str
    dags_folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_url: str = ""
    engine: Engine | None = None

    def env(self) -> dict[str, str]:
        """The environment of every deployment process."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        return {
            **base,
            **SETTINGS_ENV,
            "AIRLOCK_HOME": str(self.home),
            "AIRLOCK_DATABASE_URL": self.database_url,
            "AIRLOCK_DAGS_FOLDER": str(self.dags_folder),
            "AIRLOCK_CELERY_BROKER_URL": self.broker_url,
            "AIRLOCK_API_BASE_URL": self.api_url,
        }

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the deployment's database, to check what the services did."""
        return make_session_factory(self._engine())

    def _engine(self) -> Engine:
        if self.engine is None:
            self.engine = create_db_engine(self.database_url)
        return self.engine

    def start(self, *workers: str, concurrency: int = 4) -> dict[str, Path]:
        """Start the API server, the scheduler and the named workers; return their log files."""
        upgrade(self._engine())
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        self._start("api", [*AIRLOCK, "api-server", "--host=127.0.0.1", f"--port={port}"])
        _wait_for(self._api_answers, "the API server to answer", self.home / "api.out")
        self._start("scheduler", [*AIRLOCK, "scheduler"])
        return {name: self.start_worker(name, concurrency=concurrency) for name in workers}

    def start_worker(
        self, name: str, *, queues: str | None = None, concurrency: int = 4, pool: str = "threads"
    ) -> Path:
        """Start ``airlock celery worker`` as ``name``; return its log file once it is ready."""
        logfile = self.home / f"worker-{name}.log"
        command = [
            *AIRLOCK,
            "celery",
            "worker",
            f"--queues={queues or self.queue}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--name={name}",
            f"--logfile={logfile}",
        ]
        self._start(name, command)
        _wait_for(lambda: "ready." in read_text(logfile), f"worker {name} to be ready", logfile)
        return logfile

    def _start(self, name: str, command: list[str]) -> None:
        with (self.home / f"{name}.out").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                command,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _api_answers(self) -> bool:
        if (code := self.processes["api"].poll()) is not None:
            raise AssertionError(f"the API server exited with {code}")
        try:
            return httpx.get(f"{self.api_url}{API_PREFIX}/health", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def trigger(self, dag_id: str) -> str:
        """Wait until the scheduler stored ``dag_id``, start a run with the CLI; return its id."""
        _wait_for(lambda: self._parsed(dag_id), f"the scheduler to store DAG {dag_id}")
        done = subprocess.run(
            [*AIRLOCK, "dags", "trigger", dag_id, "--json"],
            env=self.env(),
            capture_output=True,
            check=True,
        )
        return str(json.loads(done.stdout)["run_id"])

    def _parsed(self, dag_id: str) -> bool:
        with self.sessions() as session:
            return session.get(DagModel, dag_id) is not None

    def wait_for_run(self, run_id: str, timeout: float) -> str:
        """Wait until the run has finished; return its state."""
        deadline = time.monotonic() + timeout
        while (state := self.run_state(run_id)) not in FINISHED_RUN_STATES:
            assert time.monotonic() < deadline, f"run {run_id} is still {state} after {timeout}s"
            time.sleep(0.05)
        return state

    def run_state(self, run_id: str) -> str:
        """The run's state."""
        with self.sessions() as session:
            return str(session.scalars(select(DagRun.state).where(DagRun.run_id == run_id)).one())

    def task_instances(self, run_id: str) -> dict[str, TaskInstance]:
        """The run's live task instances by task id."""
        query = select(TaskInstance).where(TaskInstance.run_id == run_id)
        with self.sessions() as session:
            return {ti.task_id: ti for ti in session.scalars(query)}

    def history(self, run_id: str) -> list[TaskInstanceHistory]:
        """The run's archived tries."""
        query = select(TaskInstanceHistory).where(TaskInstanceHistory.run_id == run_id)
        with self.sessions() as session:
            return list(session.scalars(query))

    def kill(self, name: str) -> None:
        """SIGKILL the process ``name`` alone (not its process group) and reap it."""
        proc = self.processes[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def close(self) -> None:
        """Stop every process (workers first) and whatever it left in its process group."""
        for proc in reversed(self.processes.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if self.engine is not None:
            self.engine.dispose()


def processes_of(home: Path) -> list[int]:
    """The pids of the live processes whose ``AIRLOCK_HOME`` is ``home``."""
    found = []
    wanted = f"AIRLOCK_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def read_text(path: Path) -> str:
    """The file's text, or ``""`` while it does not exist."""
    return path.read_text(errors="replace") if path.exists() else ""


def _wait_for(check: Callable[[], Any], what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            tail = read_text(log)[-3000:] if log else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.1)


def worker_runs(logfile: Path) -> list[str]:
    """The lines in which a worker reports a try it ran."""
    return [line for line in read_text(logfile).splitlines() if " ran ExecuteTask(" in line]


def worker_refusals(logfile: Path) -> list[str]:
    """The lines in which a worker reports a workload it acknowledged without running it."""
    lines = read_text(logfile).splitlines()
    return [line for line in lines if "ended with no state recorded" in line]
