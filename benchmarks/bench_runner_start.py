"""Runner start: from "start this try" to the runner executing user code.

For each launcher (fork server with DAG preloading, fork server without, fresh interpreter) the
benchmark launches a runner for a one-task DAG whose task's first statement asks the supervisor
for a Variable; the time from ``launch()`` to that request arriving is the start cost. The
runner gets real ``StartupDetails`` over its real socket; no API is involved.

Usage: .venv/bin/python benchmarks/bench_runner_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from airlock.api.models import DagRunInfo, TaskInstanceKey, TIRunContext
from airlock.execution import protocol as p
from airlock.execution.forkserver_client import ForkServerLauncher
from airlock.execution.frames import decode_request
from airlock.execution.process import ExecLauncher, RunnerLauncher
from airlock.execution.runner_channel import RunnerChannel

DAG_FILE = """
from airlock import DAG, Variable, task

with DAG("start_bench") as dag:
    @task
    def first_statement_asks():
        Variable.get("started")

    first_statement_asks()
"""

LIMIT = 64 * 1024 * 1024


def _startup(dag_file: str) -> p.StartupDetails:
    key = TaskInstanceKey(
        id="bench", dag_id="start_bench", run_id="r", task_id="first_statement_asks"
    )
    run = DagRunInfo(dag_id="start_bench", run_id="r")
    context = TIRunContext(dag_run=run, try_number=1, max_tries=0)
    return p.StartupDetails(ti=key, dag_file=dag_file, run_context=context)


async def one_start(launcher: RunnerLauncher, dag_file: str) -> float:
    """Seconds from launch to the task's first request."""
    started = time.perf_counter()
    proc = await launcher.launch(dag_file)
    channel = RunnerChannel(proc.requests, LIMIT)
    await channel.send(p.ResponseFrame(0, _startup(dag_file)))
    first = await channel.receive()
    elapsed = time.perf_counter() - started
    while first is not None:
        frame = decode_request(first)
        answer: p.ToRunner = p.OKResponse()
        if isinstance(frame.body, p.GetVariable):
            answer = p.VariableResult(key="started", value="yes")
        await channel.send(p.ResponseFrame(frame.id, answer))
        first = await channel.receive()
    await proc.wait()
    proc.close()
    return elapsed


async def measure(launcher: RunnerLauncher, dag_file: str, runs: int) -> list[float]:
    """Start ``runs`` runners one after another (after one warm-up start)."""
    try:
        await one_start(launcher, dag_file)
        return [await one_start(launcher, dag_file) for _ in range(runs)]
    finally:
        await launcher.aclose()


def main() -> None:
    """Print the median start cost of each launcher."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        dag_file = str(Path(folder) / "start_bench.py")
        Path(dag_file).write_text(DAG_FILE)
        launchers: dict[str, RunnerLauncher] = {
            "fork server, DAG file preloaded": ForkServerLauncher(),
            "fork server, runner parses the DAG file": ForkServerLauncher(preload_dag_files=False),
            "fresh interpreter (exec)": ExecLauncher(),
        }
        for name, launcher in launchers.items():
            times = asyncio.run(measure(launcher, dag_file, args.runs))
            print(
                f"{name:<42} median {statistics.median(times) * 1000:7.2f} ms  "
                f"p90 {statistics.quantiles(times, n=10)[-1] * 1000:7.2f} ms"
            )


if __name__ == "__main__":
    main()
