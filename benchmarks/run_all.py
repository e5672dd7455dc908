"""The whole benchmark suite in one command, with a table of figures against their targets.

Runs each benchmark script as its own process (one after another, so they never compete for
the two cores), prints what each printed, then one table: figure, measured value, target, and
whether the target is met. PostgreSQL figures use a fresh schema on ``--postgres-url`` (skipped
with a note when it does not answer).

Usage: .venv/bin/python benchmarks/run_all.py [--quick] [--postgres-url URL]

``--quick`` runs fewer repetitions and smaller streams (a smoke test of the suite, not figures
to record). The comparison with Apache Airflow is its own command: ``bench_airflow.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Figure:
    """One figure a benchmark prints: where to find it and what it should be."""

    name: str
    pattern: str
    target: float
    unit: str
    higher_is_better: bool = False

    def read(self, output: str) -> float | None:
        """The figure's value in ``output``, or ``None`` when the benchmark did not print it."""
        found = re.search(self.pattern, output)
        return float(found.group(1).replace(",", "")) if found else None

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        return value >= self.target if self.higher_is_better else value <= self.target


@dataclass(frozen=True)
class Benchmark:
    """A benchmark script, its arguments (full and quick), and the figures it prints."""

    script: str
    args: list[str]
    quick_args: list[str]
    figures: list[Figure]


def benchmarks(postgres: str | None) -> list[Benchmark]:
    """The suite; the PostgreSQL stream only when a database URL is given."""
    stream_figures = [
        Figure(
            "no-op task in a 500-task stream (SQLite)",
            r"per task in the stream: ([\d.]+)",
            10,
            "ms",
        ),
        Figure(
            "throughput, SQLite, 2 cores",
            r"throughput: ([\d.]+)",
            200,
            "tasks/s",
            higher_is_better=True,
        ),
        Figure(
            "1-task run, trigger -> success (SQLite)",
            r"1 no-op task.*median ([\d.]+) ms",
            0,
            "ms",
        ),
    ]
    suite = [
        Benchmark(
            "bench_protocol.py",
            [],
            ["--round-trips", "5000", "--runs", "3"],
            [
                Figure(
                    "protocol round trips",
                    r"protocol round trips/s[^:]*: ([\d,]+)",
                    0,
                    "/s",
                    higher_is_better=True,
                ),
                Figure("protocol cost vs bare socketpair", r"vs floor: ([\d.]+)x", 1.5, "x"),
                Figure("10 MB XCom through the socket", r"10 MB XCom[^:]*: ([\d.]+) ms", 100, "ms"),
            ],
        ),
        Benchmark(
            "bench_runner_start.py",
            [],
            ["--runs", "15"],
            [
                Figure("runner start, fork server", r"preloaded\s+median\s+([\d.]+) ms", 5, "ms"),
                Figure(
                    "runner start, fresh interpreter", r"\(exec\)\s+median\s+([\d.]+) ms", 0, "ms"
                ),
            ],
        ),
        Benchmark(
            "bench_dags_test.py",
            [str(HERE / "dags" / "noop_1.py")],
            ["--runs", "2", str(HERE / "dags" / "noop_1.py")],
            [Figure("dags test, 1 no-op task, start to exit", r"median ([\d.]+)s", 0, "s")],
        ),
        Benchmark(
            "bench_chain.py",
            [],
            ["--runs", "1"],
            [Figure("chain latency, dags test", r"median ([\d.]+) ms", 20, "ms")],
        ),
        Benchmark(
            "bench_chain.py",
            ["--deployed"],
            ["--deployed", "--runs", "1"],
            [Figure("chain latency, deployed services", r"median ([\d.]+) ms", 20, "ms")],
        ),
        Benchmark("bench_stream.py", [], ["--tasks", "100", "--runs", "1"], stream_figures),
        Benchmark(
            "bench_memory.py",
            [],
            ["--tasks", "40", "--sleep", "8"],
            [
                Figure(
                    "PSS per running task (200 sleeping)",
                    r"per running task: ([\d.]+) MiB",
                    10,
                    "MiB",
                )
            ],
        ),
    ]
    if postgres:
        suite.append(
            Benchmark(
                "bench_stream.py",
                ["--database-url", postgres],
                ["--database-url", postgres, "--tasks", "100", "--runs", "1"],
                [
                    Figure(
                        "no-op task in a 500-task stream (PostgreSQL)",
                        r"per task in the stream: ([\d.]+)",
                        10,
                        "ms",
                    ),
                    Figure(
                        "throughput, PostgreSQL, 2 cores",
                        r"throughput: ([\d.]+)",
                        200,
                        "tasks/s",
                        higher_is_better=True,
                    ),
                ],
            )
        )
    return suite


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str | None]:
    """A fresh schema on ``url`` (dropped afterwards), as a URL; ``None`` if it is unreachable."""
    try:
        import psycopg  # noqa: PLC0415 -- only for the PostgreSQL figures

        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 -- any failure means: no PostgreSQL figures
        print(f"PostgreSQL at {url} is unreachable ({exc}): its figures are skipped")
        yield None
        return
    schema = f"airlock_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def run(benchmark: Benchmark, *, quick: bool) -> str:
    """Run one benchmark script; echo and return its output."""
    args = benchmark.quick_args if quick else benchmark.args
    print(f"\n$ python benchmarks/{benchmark.script} {' '.join(args)}", flush=True)
    done = subprocess.run(
        [sys.executable, str(HERE / benchmark.script), *args],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=False,
    )
    print(done.stdout, end="")
    if done.returncode != 0:
        print(f"FAILED (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    """Run the suite and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}")
    rows = []
    with postgres_schema(args.postgres_url) as postgres:
        for benchmark in benchmarks(postgres):
            output = run(benchmark, quick=args.quick)
            rows += [(figure, figure.read(output)) for figure in benchmark.figures]
    print(f"\n{'figure':<46} {'measured':>14} {'target':>16}  met")
    for figure, value in rows:
        shown = "—" if value is None else f"{value:,.1f} {figure.unit}"
        if figure.target == 0:
            target, verdict = "(reference)", ""
        else:
            sign = ">=" if figure.higher_is_better else "<="
            target = f"{sign} {figure.target:g} {figure.unit}"
            verdict = "—" if value is None else ("yes" if figure.met(value) else "no")
        print(f"{figure.name:<46} {shown:>14} {target:>16}  {verdict}")


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
