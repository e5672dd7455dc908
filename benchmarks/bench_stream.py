"""No-op tasks through the deployed path: API server, scheduler and a local worker, as processes.

Starts ``airlock api-server``, ``airlock scheduler`` and ``airlock worker`` on a fresh home
(SQLite by default, ``--database-url`` for PostgreSQL), then triggers:

- ``noop_stream`` (``--tasks`` independent no-op tasks): trigger-to-success time of the run
  (from the database), the time per task in the stream, throughput in tasks per second, and the
  CPU time each service spent per task;
- ``noop_1`` (one no-op task): trigger-to-success latency.

Usage: .venv/bin/python benchmarks/bench_stream.py [--tasks N] [--parallelism N]
       [--database-url URL] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from deployment import ROOT, deployment

DAGS = [ROOT / "benchmarks" / "dags" / name for name in ("noop_stream.py", "noop_1.py")]


def main() -> None:
    """Print the stream's per-task time, throughput and CPU split, and the one-task latency."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--parallelism", type=int, default=32)
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="airlock-stream-") as folder,
        deployment(
            Path(folder),
            DAGS,
            database_url=args.database_url,
            parallelism=args.parallelism,
            extra_env={"BENCH_TASKS": str(args.tasks)},
        ) as deployed,
    ):
        deployed.wait_for_dags({"noop_stream", "noop_1"})
        deployed.run("noop_1")  # warm up: the worker's fork server preloads the files
        before = deployed.cpu_seconds()
        stream = [deployed.run("noop_stream").seconds for _ in range(args.runs)]
        after = deployed.cpu_seconds()
        single = [deployed.run("noop_1").seconds for _ in range(args.runs * 3)]
    total = statistics.median(stream)
    tasks = args.tasks * args.runs
    print(f"database: {args.database_url or 'SQLite (embedded)'}; parallelism {args.parallelism}")
    print(f"{args.tasks} no-op tasks: median {total:.2f}s trigger->success ({args.runs} runs)")
    print(f"  per task in the stream: {total / args.tasks * 1000:.1f} ms")
    print(f"  throughput: {args.tasks / total:.0f} tasks/s")
    cpu = {name: (after[name] - before[name]) / tasks * 1000 for name in after}
    split = ", ".join(f"{name} {ms:.1f}" for name, ms in cpu.items())
    print(f"  CPU ms per task: {sum(cpu.values()):.1f} ({split})")
    print(f"1 no-op task, trigger->success: median {statistics.median(single) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
