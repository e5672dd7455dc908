"""No-op tasks through the deployed path: API server, scheduler and a local worker, as processes.

Starts ``airlock api-server``, ``airlock scheduler`` and ``airlock worker`` on a fresh home
(SQLite by default, ``--database-url`` for PostgreSQL), waits until the scheduler has parsed
the benchmark DAGs, then triggers:

- ``noop_stream`` (``--tasks`` independent no-op tasks): trigger-to-success wall time, the
  median time per task in the stream, and throughput in tasks per second;
- ``noop_1`` (one no-op task): trigger-to-success latency.

Usage: .venv/bin/python benchmarks/bench_stream.py [--tasks N] [--parallelism N]
       [--database-url URL] [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
AIRLOCK = [sys.executable, "-m", "airlock.cli.main"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(home: Path, database_url: str | None, tasks: int) -> dict[str, str]:
    """The services' environment: a private home, the benchmark DAGs, a free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
    env.update(
        AIRLOCK_HOME=str(home),
        AIRLOCK_DAGS_FOLDER=str(home / "dags"),
        AIRLOCK_API_PORT=str(free_port()),
        AIRLOCK_PARSING_INTERVAL="2",
        BENCH_TASKS=str(tasks),
    )
    if database_url:
        env["AIRLOCK_DATABASE_URL"] = database_url
    return env


def cli(env: dict[str, str], *args: str) -> str:
    """Run an airlock command; return its stdout."""
    done = subprocess.run(
        [*AIRLOCK, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


@contextlib.contextmanager
def services(env: dict[str, str], home: Path, parallelism: int) -> Iterator[None]:
    """API server, scheduler and one local worker, stopped on exit."""
    token_file = home / "worker-token"
    token_file.write_text(cli(env, "worker-token").strip())
    env["AIRLOCK_WORKER_TOKEN_FILE"] = str(token_file)
    commands = [
        ["api-server"],
        ["scheduler"],
        ["worker", "--parallelism", str(parallelism)],
    ]
    logs = home / "service-logs"
    logs.mkdir()
    procs = [
        subprocess.Popen(
            [*AIRLOCK, *command],
            env=env,
            cwd=ROOT,
            stdout=(logs / f"{command[0]}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for_dags(env: dict[str, str], dag_ids: set[str], timeout: float = 120) -> None:
    """Wait until the scheduler has stored the given DAGs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = json.loads(cli(env, "dags", "list", "--json"))
        rows = listed["dags"] if isinstance(listed, dict) else listed
        if dag_ids <= {row["dag_id"] for row in rows}:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the scheduler did not store {sorted(dag_ids)} in time")


def run_once(env: dict[str, str], dag_id: str, timeout: float = 600) -> float:
    """Trigger ``dag_id`` and wait for success; return trigger-to-success seconds."""
    started = time.perf_counter()
    run = json.loads(cli(env, "dags", "trigger", dag_id, "--json"))
    run_id = run["run_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = json.loads(cli(env, "runs", "list", dag_id, "--json"))
        rows = runs["runs"] if isinstance(runs, dict) else runs
        state = next(row["state"] for row in rows if row["run_id"] == run_id)
        if state in {"success", "failed"}:
            if state != "success":
                raise RuntimeError(f"{dag_id} run {run_id} failed")
            return time.perf_counter() - started
        time.sleep(0.05)
    raise TimeoutError(f"{dag_id} did not finish in {timeout}s")


def main() -> None:
    """Print the stream's per-task time and throughput, and the one-task latency."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--parallelism", type=int, default=32)
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airlock-stream-") as folder:
        home = Path(folder)
        (home / "dags").mkdir()
        for name in ("noop_stream.py", "noop_1.py"):
            shutil.copy(ROOT / "benchmarks" / "dags" / name, home / "dags" / name)
        env = environment(home, args.database_url, args.tasks)
        cli(env, "db", "migrate")
        with services(env, home, args.parallelism):
            wait_for_dags(env, {"noop_stream", "noop_1"})
            stream = [run_once(env, "noop_stream") for _ in range(args.runs)]
            single = [run_once(env, "noop_1") for _ in range(args.runs * 3)]
    total = statistics.median(stream)
    database = args.database_url or "SQLite (embedded)"
    print(f"database: {database}; worker parallelism {args.parallelism}")
    print(f"{args.tasks} no-op tasks: median {total:.2f}s trigger->success")
    print(f"  per task in the stream: {total / args.tasks * 1000:.1f} ms")
    print(f"  throughput: {args.tasks / total:.0f} tasks/s")
    print(f"1 no-op task, trigger->success: median {statistics.median(single) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
