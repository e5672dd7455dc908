"""Chain latency: in a 40-task linear chain, the time from one task's end to the next's start.

Runs `airlock dags test benchmarks/dags/chain_40.py` and reads the task instances' start and
end times from the run's database.

Usage: .venv/bin/python benchmarks/bench_chain.py [--runs N]
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

ROOT = Path(__file__).resolve().parents[1]


def gaps_of_one_run() -> list[float]:
    """Run the chain once; return the end-to-next-start gaps in seconds."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        env["AIRLOCK_HOME"] = home
        command = [sys.executable, "-m", "airlock.cli.main", "dags", "test"]
        subprocess.run(
            [*command, "benchmarks/dags/chain_40.py", "--quiet"],
            check=True,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        (database,) = Path(home, "dags-test").glob("*.db")
        with sqlite3.connect(database) as db:
            rows = db.execute(
                "SELECT start_date, end_date FROM task_instance ORDER BY start_date"
            ).fetchall()
    times = [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in rows]
    return [(nxt[0] - cur[1]).total_seconds() for cur, nxt in itertools.pairwise(times)]


def main() -> None:
    """Print the median and p90 gap over all runs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    gaps = [gap for _ in range(args.runs) for gap in gaps_of_one_run()]
    print(
        f"chain latency (end of a task -> start of the next), {len(gaps)} gaps: "
        f"median {statistics.median(gaps) * 1000:.1f} ms, "
        f"p90 {statistics.quantiles(gaps, n=10)[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
