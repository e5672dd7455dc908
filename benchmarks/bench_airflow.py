"""airlock beside Apache Airflow 3.3.2, the same workloads in the same run, with ratios.

Installs ``apache-airflow==3.3.2`` into its own venv on first use (``--airflow-venv``, default
``benchmarks/.airflow-venv``), then times, for both systems:

- ``dags test`` of a one-task no-op DAG, from command start to exit;
- the deployed path (API server + scheduler + local executor/worker, separate processes)
  running N independent no-op tasks (default 50) to success: time per task, from the run's
  creation to its end as each system's database records them (so no CLI start-up counts);
- the deployed path running a 10-task linear chain: time per dependent step.

Airflow runs on SQLite with ``LocalExecutor`` and parallelism 2 (as in
``shared/reference/airflow-baseline.md``); airlock on SQLite with its defaults. Both listen only
on 127.0.0.1.

Usage: .venv/bin/python benchmarks/bench_airflow.py [--tasks N] [--runs N] [--airflow-venv DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

from deployment import as_datetime, deployment, free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_VERSION = "3.3.2"

DAGS = {
    "noop_1": """
        with DAG("noop_1", schedule=None) as dag:
            @task
            def noop():
                return None
            noop()
        """,
    "noop_many": """
        import os
        with DAG("noop_many", schedule=None, max_active_tasks=10_000) as dag:
            @task
            def noop():
                return None
            for _ in range(int(os.environ.get("BENCH_TASKS", "50"))):
                noop()
        """,
    "chain_10": """
        with DAG("chain_10", schedule=None) as dag:
            @task
            def step():
                return None
            chain(*[step() for _ in range(10)])
        """,
}


def write_dags(folder: Path, package: str) -> None:
    """Write the benchmark DAGs, importing from ``airflow.sdk`` or ``airlock``."""
    header = f"from {package} import DAG, chain, task\n"
    for name, body in DAGS.items():
        (folder / f"{name}.py").write_text(header + textwrap.dedent(body))


def ensure_airflow(venv: Path) -> Path:
    """Create the Airflow venv if it is missing; return its ``airflow`` command."""
    airflow = venv / "bin" / "airflow"
    if not airflow.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, f"apache-airflow=={AIRFLOW_VERSION}"], check=True)
    return airflow


def timed(command: list[str], env: dict[str, str]) -> float:
    """Run ``command`` to completion; return its wall time."""
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=ROOT, capture_output=True)
    return time.perf_counter() - started


# --- Airflow --------------------------------------------------------------------------------


def airflow_env(home: Path, port: int) -> dict[str, str]:
    """Environment of an isolated Airflow installation in ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRLOCK"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="1",
    )
    return env


@contextlib.contextmanager
def airflow_installation(airflow: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A migrated Airflow home with the benchmark DAGs."""
    with tempfile.TemporaryDirectory(prefix="airflow-bench-") as folder:
        home = Path(folder)
        (home / "dags").mkdir()
        write_dags(home / "dags", "airflow.sdk")
        env = airflow_env(home, free_port())
        subprocess.run([str(airflow), "db", "migrate"], check=True, env=env, capture_output=True)
        yield env, home


@contextlib.contextmanager
def airflow_services(airflow: Path, env: dict[str, str], home: Path) -> Iterator[None]:
    """API server, scheduler and DAG processor, stopped on exit."""
    logs = home / "service-logs"
    logs.mkdir(exist_ok=True)
    procs = [
        subprocess.Popen(
            [str(airflow), service],
            env=env,
            stdout=(logs / f"{service}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for service in ("api-server", "scheduler", "dag-processor")
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def airflow_run_seconds(airflow: Path, env: dict[str, str], home: Path, dag_id: str) -> float:
    """Trigger ``dag_id`` and wait for success; return the run's queued-to-end seconds.

    Read from Airflow's database, like airlock's figure, so neither CLI's start-up counts.
    """
    database = home / "airflow.db"
    _wait_until(lambda: _dag_known(database, dag_id), timeout=120)
    subprocess.run(
        [str(airflow), "dags", "trigger", dag_id], check=True, env=env, capture_output=True
    )
    _wait_until(lambda: _run_state(database, dag_id) in {"success", "failed"}, timeout=900)
    if _run_state(database, dag_id) != "success":
        raise RuntimeError(f"Airflow's {dag_id} run failed; see {home}/service-logs")
    with sqlite3.connect(database) as db:
        queued, ended = db.execute(
            "SELECT queued_at, end_date FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
    return (as_datetime(ended) - as_datetime(queued)).total_seconds()


def _dag_known(database: Path, dag_id: str) -> bool:
    with contextlib.suppress(sqlite3.Error), sqlite3.connect(database) as db:
        return db.execute("SELECT 1 FROM dag WHERE dag_id = ?", (dag_id,)).fetchone() is not None
    return False


def _run_state(database: Path, dag_id: str) -> str | None:
    with contextlib.suppress(sqlite3.Error), sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        return None if row is None else str(row[0])
    return None


def _wait_until(condition: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        time.sleep(0.05)


# --- airlock --------------------------------------------------------------------------------


def airlock_env(home: Path) -> dict[str, str]:
    """Environment of an isolated airlock home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRLOCK"))}
    env["AIRLOCK_HOME"] = str(home)
    return env


def airlock_dags_test(dag_file: Path, env: dict[str, str]) -> float:
    """Wall time of ``airlock dags test``."""
    command = [sys.executable, "-m", "airlock.cli.main", "dags", "test", str(dag_file), "--quiet"]
    return timed(command, env)


# --- the comparison -------------------------------------------------------------------------


def compare(args: argparse.Namespace) -> list[tuple[str, float, float]]:
    """Measure every workload on both systems; return (name, airlock, airflow) medians."""
    airflow = ensure_airflow(args.airflow_venv)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "files").mkdir()
        write_dags(home / "files", "airlock")
        env = airlock_env(home) | {"BENCH_TASKS": str(args.tasks)}
        ours_test = [airlock_dags_test(home / "files" / "noop_1.py", env) for _ in range(args.runs)]
        files = sorted((home / "files").glob("*.py"))
        extra = {"BENCH_TASKS": str(args.tasks)}
        with deployment(home / "deployed", files, extra_env=extra) as deployed:
            deployed.wait_for_dags({"noop_many", "chain_10"})
            deployed.run("noop_1")  # warm up: the worker's fork server preloads the files
            ours_many = [deployed.run("noop_many").seconds for _ in range(args.runs)]
            ours_chain = [deployed.run("chain_10").seconds for _ in range(args.runs)]
    with airflow_installation(airflow) as (base_env, af_home):
        af_env = base_env | {"BENCH_TASKS": str(args.tasks)}
        theirs_test = [
            timed([str(airflow), "dags", "test", "noop_1"], af_env) for _ in range(args.runs)
        ]
        with airflow_services(airflow, af_env, af_home):
            theirs_many = [
                airflow_run_seconds(airflow, af_env, af_home, "noop_many") for _ in range(args.runs)
            ]
            theirs_chain = [
                airflow_run_seconds(airflow, af_env, af_home, "chain_10") for _ in range(args.runs)
            ]
    med = statistics.median
    return [
        ("dags test, 1 no-op task (s)", med(ours_test), med(theirs_test)),
        (
            f"{args.tasks} no-op tasks, s per task",
            med(ours_many) / args.tasks,
            med(theirs_many) / args.tasks,
        ),
        ("10-task chain, s per step", med(ours_chain) / 10, med(theirs_chain) / 10),
    ]


def main() -> None:
    """Print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--airflow-venv", type=Path, default=ROOT / "benchmarks" / ".airflow-venv")
    args = parser.parse_args()
    rows = compare(args)
    print(f"{'workload':<32} {'airlock':>10} {'Airflow ' + AIRFLOW_VERSION:>14} {'ratio':>8}")
    for name, ours, theirs in rows:
        print(f"{name:<32} {ours:>10.4f} {theirs:>14.4f} {theirs / ours:>7.1f}x")


if __name__ == "__main__":
    main()
