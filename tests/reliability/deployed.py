"""A deployment of real processes for the reliability tests: API server, scheduler, workers.

Every piece is started with its real command (``airlock api-server``, ``airlock scheduler``,
``airlock worker``), talks over loopback sockets, and shares one database: a SQLite file, or a
PostgreSQL schema of its own under ``--db postgres``. The test can stop the API server (any
signal) and start it again on the same port, and kill workers and start new ones. Processes are
found in ``/proc`` by their ``AIRLOCK_HOME``, which every one of them (runners included) carries,
so that nothing is left running after a test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from sqlalchemy import select
from tests.integration.conftest import DAG_HEADER
from tests.support import free_port

from airlock.api.models import API_PREFIX
from airlock.db.connect import open_database
from airlock.db.engine import make_session_factory
from airlock.db.models import DagModel, DagRun, TaskInstance, TaskInstanceHistory, XCom
from airlock.scheduling.control import trigger_dag
from airlock.server.signing_key import load_signing_key
from airlock.server.worker_auth import WorkerCredentials
from airlock.settings import Settings
from airlock.states import FINISHED_RUN_STATES

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

AIRLOCK = [sys.executable, "-m", "airlock.cli.main"]
START_TIMEOUT = 30.0
"""Seconds a service may take to start answering."""

FAST_SETTINGS = {
    "heartbeat_interval": "0.5",
    "heartbeat_timeout": "30",
    "kill_grace_period": "1",
    "api_retries": "3",
    "scheduler_loop_interval": "0.2",
    "parsing_interval": "1",
    "worker_poll_interval": "0.2",
    "worker_shutdown_grace": "5",
}
"""Short intervals, so that every reaction of the services takes seconds, not minutes."""


def wait_until(
    check: Callable[[], Any], what: str, timeout: float, log: Path | None = None
) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds, naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{tail}")
        time.sleep(0.1)


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(root: int) -> set[int]:
    """The live processes below ``root`` in the process tree (children, their children...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_until_gone(pids: set[int], timeout: float) -> set[int]:
    """Wait until none of ``pids`` runs; return those still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (alive := {pid for pid in pids if is_running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@dataclass
class Deployed:
    """The processes of one test's deployment; :meth:`close` stops every one.

    Attributes:
        home: ``AIRLOCK_HOME`` of every process (database file, logs, signing key).
        database_url: the PostgreSQL schema's URL, or ``None`` for ``<home>/airlock.db``.
        settings: ``AIRLOCK_*`` settings (lower-case names) every process gets.
    """

    home: Path
    database_url: str | None
    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _engine: Engine | None = None

    @property
    def dags_folder(self) -> Path:
        """Where the scheduler finds the test's DAG files."""
        return self.home / "dags"

    @property
    def api_url(self) -> str:
        """The API server's root URL (the same across restarts)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of every process of the deployment."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        values = FAST_SETTINGS | self.settings
        base |= {f"AIRLOCK_{name.upper()}": value for name, value in values.items()}
        base |= {
            "AIRLOCK_HOME": str(self.home),
            "AIRLOCK_DAGS_FOLDER": str(self.dags_folder),
            "AIRLOCK_API_HOST": "127.0.0.1",
            "AIRLOCK_API_PORT": str(self.port),
            "AIRLOCK_API_BASE_URL": self.api_url,
            "AIRLOCK_WORKER_TOKEN_FILE": str(self.home / "worker_token"),
        }
        if self.database_url:
            base["AIRLOCK_DATABASE_URL"] = self.database_url
        return base

    def prepare(self) -> None:
        """Create the schema, the signing key and a worker credential before any service."""
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        settings = Settings(home=self.home, database_url=self.database_url)
        self._engine = open_database(settings, migrate=True)
        credential = WorkerCredentials(load_signing_key(settings)).mint("tests", lifetime=3600)
        token = self.home / "worker_token"
        token.write_text(credential)
        token.chmod(0o600)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the deployment's database, to check what the services did."""
        assert self._engine is not None, "call prepare() first"
        return make_session_factory(self._engine)

    # --- processes -------------------------------------------------------------------------

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``airlock ARGS`` as ``name``; its output goes to ``<home>/<name>.out``."""
        with self.log(name).open("ab") as out:
            proc = subprocess.Popen(
                [*AIRLOCK, *args],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = proc
        return proc

    def log(self, name: str) -> Path:
        """Where the process ``name`` writes its output."""
        return self.home / f"{name}.out"

    def start_api(self) -> None:
        """Start the API server on the deployment's port; return once it answers."""
        self.start("api", "api-server")
        wait_until(self.api_answers, "the API server to answer", START_TIMEOUT, self.log("api"))

    def api_answers(self) -> bool:
        """Whether the API server answers its health check."""
        if (code := self.processes["api"].poll()) is not None:
            raise AssertionError(f"the API server exited with {code}")
        try:
            return httpx.get(f"{self.api_url}{API_PREFIX}/health", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def stop_api(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the API server and wait until it has exited and freed its port."""
        self.stop("api", signum)

    def start_scheduler(self) -> None:
        """Start the scheduler."""
        self.start("scheduler", "scheduler")

    def start_worker(self, name: str, *, parallelism: int = 4) -> subprocess.Popen[bytes]:
        """Start ``airlock worker`` as ``name``."""
        return self.start(name, "worker", f"--parallelism={parallelism}")

    def stop(self, name: str, signum: signal.Signals = signal.SIGKILL) -> None:
        """Send ``signum`` to the process ``name`` alone (not its group) and reap it."""
        proc = self.processes[name]
        proc.send_signal(signum)
        proc.wait(timeout=30)

    def leftovers(self) -> list[int]:
        """The live processes of this deployment (every one carries its ``AIRLOCK_HOME``)."""
        wanted = f"AIRLOCK_HOME={self.home}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
        return [pid for pid in found if is_running(pid)]

    def close(self) -> None:
        """Stop every process (workers first), then whatever they left behind."""
        for proc in reversed(self.processes.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self._engine is not None:
            self._engine.dispose()

    # --- DAGs and runs ---------------------------------------------------------------------

    def write_dag(self, body: str, name: str = "dag_under_test.py") -> Path:
        """Write a DAG file (with the common imports) into the DAGs folder."""
        path = self.dags_folder / name
        path.write_text(DAG_HEADER + textwrap.dedent(body))
        return path

    def trigger(self, dag_id: str, run_id: str | None = None) -> str:
        """Wait until the scheduler has stored ``dag_id``, start a run of it; return its id."""
        wait_until(lambda: self._known(dag_id), f"DAG {dag_id} to be parsed", START_TIMEOUT)
        with self.sessions.begin() as session:
            return trigger_dag(session, dag_id, run_id=run_id).run_id

    def _known(self, dag_id: str) -> bool:
        with self.sessions() as session:
            return session.get(DagModel, dag_id) is not None

    def runs_finished(self, dag_id: str) -> bool:
        """Whether every run of ``dag_id`` has finished (and there is one)."""
        with self.sessions() as session:
            states = list(session.scalars(select(DagRun.state).where(DagRun.dag_id == dag_id)))
        return bool(states) and all(state in FINISHED_RUN_STATES for state in states)

    def run_states(self, dag_id: str) -> list[str]:
        """The states of the runs of ``dag_id``."""
        with self.sessions() as session:
            return [
                str(s) for s in session.scalars(select(DagRun.state).where(DagRun.dag_id == dag_id))
            ]

    def tis(self, dag_id: str) -> list[TaskInstance]:
        """The live task instances of ``dag_id``."""
        with self.sessions() as session:
            return list(session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id)))

    def history(self, dag_id: str) -> list[TaskInstanceHistory]:
        """The archived tries of ``dag_id``."""
        query = select(TaskInstanceHistory).where(TaskInstanceHistory.dag_id == dag_id)
        with self.sessions() as session:
            return list(session.scalars(query))

    def return_values(self, dag_id: str) -> dict[tuple[str, str], Any]:
        """The ``return_value`` XComs of ``dag_id``, decoded, by (run id, task id)."""
        query = select(XCom).where(XCom.dag_id == dag_id, XCom.key == "return_value")
        with self.sessions() as session:
            return {
                (row.run_id, row.task_id): msgspec.json.decode(row.value)
                for row in session.scalars(query)
            }

    def task_log(self, ti: TaskInstance | TaskInstanceHistory) -> str:
        """The log of one try (empty when there is none)."""
        folder = self.home / "logs" / f"dag_id={ti.dag_id}" / f"run_id={ti.run_id}"
        matches = list(folder.glob(f"task_id={ti.task_id}/**/attempt={ti.try_number}.log"))
        return matches[0].read_text(errors="replace") if matches else ""
