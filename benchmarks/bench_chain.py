"""Chain latency: in a 40-task linear chain, the time from one task's end to the next's start.

Two paths, each read from the task instances' start and end times in the run's database:

- ``dags test``: ``airlock dags test benchmarks/dags/chain_40.py`` (scheduling in process);
- deployed (``--deployed``): API server, scheduler and a local worker as separate processes
  (see ``deployment.py``): the scheduler learns of each end from the database's change signal
  and the worker of each queued task from its long poll.

Usage: .venv/bin/python benchmarks/bench_chain.py [--runs N] [--deployed] [--database-url URL]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from deployment import ROOT, as_datetime, deployment
from sqlalchemy import text

CHAIN = ROOT / "benchmarks" / "dags" / "chain_40.py"


def gaps(times: list[tuple[datetime, datetime]]) -> list[float]:
    """The end-to-next-start gaps, in seconds, of (start, end) pairs."""
    ordered = sorted(times)
    return [(nxt[0] - cur[1]).total_seconds() for cur, nxt in itertools.pairwise(ordered)]


def dags_test_gaps() -> list[float]:
    """Run the chain once with ``airlock dags test``; return its gaps."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        env["AIRLOCK_HOME"] = home
        command = [sys.executable, "-m", "airlock.cli.main", "dags", "test"]
        subprocess.run(
            [*command, str(CHAIN), "--quiet"],
            check=True,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        (database,) = Path(home, "dags-test").glob("*.db")
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT start_date, end_date FROM task_instance").fetchall()
    return gaps([(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in rows])


def deployed_gaps(runs: int, database_url: str | None) -> list[float]:
    """Run the chain ``runs`` times on a deployment; return every gap."""
    found: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="airlock-chain-") as folder,
        deployment(Path(folder), [CHAIN], database_url=database_url) as deployed,
    ):
        deployed.wait_for_dags({"chain_40"})
        for _ in range(runs):
            deployed.run("chain_40")
        with deployed.engine.connect() as db:
            rows = db.execute(text("SELECT run_id, start_date, end_date FROM task_instance")).all()
    by_run: dict[str, list[tuple[datetime, datetime]]] = {}
    for run_id, start, end in rows:
        by_run.setdefault(run_id, []).append((as_datetime(start), as_datetime(end)))
    for times in by_run.values():
        found += gaps(times)
    return found


def main() -> None:
    """Print the median and p90 gap over all runs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deployed", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.deployed:
        found = deployed_gaps(args.runs, args.database_url)
        path = f"deployed ({args.database_url or 'SQLite'})"
    else:
        found = [gap for _ in range(args.runs) for gap in dags_test_gaps()]
        path = "dags test"
    print(
        f"chain latency, {path} (end of a task -> start of the next), {len(found)} gaps: "
        f"median {statistics.median(found) * 1000:.1f} ms, "
        f"p90 {statistics.quantiles(found, n=10)[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
