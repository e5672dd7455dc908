"""Wall time of `airlock dags test` on a DAG file, median over repeated runs.

Usage: .venv/bin/python benchmarks/bench_dags_test.py [--runs N] DAG_FILE [DAG_FILE ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_run(dag_file: str) -> float:
    """Run `airlock dags test` once in a fresh home; return the wall time in seconds."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        env.update(AIRLOCK_HOME=home, ETL_OUTPUT_DIR=f"{home}/out")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "airlock.cli.main", "dags", "test", dag_file, "--quiet"],
            check=True,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def main() -> None:
    """Print the median and spread of each DAG file's wall time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_files", nargs="+")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for dag_file in args.dag_files:
        times = [time_run(dag_file) for _ in range(args.runs)]
        print(
            f"{dag_file}: median {statistics.median(times):.2f}s "
            f"(min {min(times):.2f}s, max {max(times):.2f}s, {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
