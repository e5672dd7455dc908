"""An airlock deployment for benchmarks: API server, scheduler and local worker as processes.

Used by ``bench_stream.py`` and ``bench_airflow.py``. Timings come from the database (a run's
``created_at`` to its ``end_date``), polled in process, so neither the benchmark's own polling
nor the CLI's start-up is counted; CPU time comes from ``/proc`` for each service and every
process under it (the worker's fork server and runners included).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
AIRLOCK = [sys.executable, "-m", "airlock.cli.main"]
SERVICES = ("api-server", "scheduler", "worker")
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunTiming:
    """One finished run, read from the database."""

    seconds: float
    """From the run's creation (the trigger) to its end."""
    tasks: int


class Deployment:
    """A private airlock home with its services running; see :func:`deployment`."""

    def __init__(
        self, home: Path, env: dict[str, str], procs: dict[str, subprocess.Popen[bytes]]
    ) -> None:
        self.home = home
        self.env = env
        self.procs = procs
        url = env.get("AIRLOCK_DATABASE_URL") or f"sqlite:///{home / 'airlock.db'}"
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))

    def cli(self, *args: str) -> str:
        """Run an airlock command against this deployment; return its stdout."""
        done = subprocess.run(
            [*AIRLOCK, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 120) -> None:
        """Wait until the scheduler has stored the given DAGs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception), self.engine.connect() as db:
                known = set(db.execute(text("SELECT dag_id FROM serialized_dag")).scalars())
                if dag_ids <= known:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"the scheduler did not store {sorted(dag_ids)} in time")

    def run(self, dag_id: str, timeout: float = 600) -> RunTiming:
        """Trigger ``dag_id``, wait for its run to succeed, and return its timing."""
        run_id = json.loads(self.cli("dags", "trigger", dag_id, "--json"))["run_id"]
        query = text(
            "SELECT state, created_at, end_date FROM dag_run WHERE dag_id = :d AND run_id = :r"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as db:
                state, created, ended = db.execute(query, {"d": dag_id, "r": run_id}).one()
                if state in {"success", "failed"}:
                    tasks = db.execute(
                        text(
                            "SELECT count(*) FROM task_instance WHERE dag_id = :d AND run_id = :r"
                        ),
                        {"d": dag_id, "r": run_id},
                    ).scalar_one()
                    break
            time.sleep(0.01)
        else:
            raise TimeoutError(f"{dag_id} did not finish in {timeout}s; see {self.home}")
        if state != "success":
            raise RuntimeError(f"{dag_id} run {run_id} ended {state}; see {self.home}")
        return RunTiming(
            seconds=(as_datetime(ended) - as_datetime(created)).total_seconds(), tasks=tasks
        )

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each service and everything under it."""
        tree = _process_tree()
        return {name: _tree_cpu(proc.pid, tree) for name, proc in self.procs.items()}


@contextlib.contextmanager
def deployment(
    home: Path,
    dag_files: list[Path],
    *,
    database_url: str | None = None,
    parallelism: int = 32,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    """Start API server, scheduler and one local worker on a fresh ``home``; stop them on exit."""
    (home / "dags").mkdir(parents=True, exist_ok=True)
    for path in dag_files:
        (home / "dags" / path.name).write_bytes(path.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRLOCK_", "AIRFLOW"))}
    env.update(
        AIRLOCK_HOME=str(home),
        AIRLOCK_DAGS_FOLDER=str(home / "dags"),
        AIRLOCK_API_PORT=str(free_port()),
        AIRLOCK_PARSING_INTERVAL="2",
        **(extra_env or {}),
    )
    if database_url:
        env["AIRLOCK_DATABASE_URL"] = database_url
    starter = Deployment(home, env, {})
    starter.cli("db", "migrate")
    token_file = home / "worker-token"
    token_file.write_text(starter.cli("worker-token").strip())
    env["AIRLOCK_WORKER_TOKEN_FILE"] = str(token_file)
    logs = home / "service-logs"
    logs.mkdir(exist_ok=True)
    extra = {"worker": ["--parallelism", str(parallelism)]}
    procs = {
        name: subprocess.Popen(
            [*AIRLOCK, name, *extra.get(name, [])],
            env=env,
            cwd=ROOT,
            stdout=(logs / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name in SERVICES
    }
    try:
        yield Deployment(home, env, procs)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def as_datetime(value: datetime | str) -> datetime:
    """A timestamp read from the database (SQLite gives strings)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _process_tree() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree_cpu(pid: int, tree: dict[int, list[int]]) -> float:
    """Utime + stime of ``pid`` and its reaped children, plus the same for its live children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / _TICKS
    return own + sum(_tree_cpu(child, tree) for child in tree.get(pid, []))
