"""Many independent no-op tasks (BENCH_TASKS, default 500): the per-task cost."""

import os

from airlock import DAG, task

COUNT = int(os.environ.get("BENCH_TASKS", "500"))

with DAG("noop_stream", max_active_tasks=10_000) as dag:

    @task
    def noop():
        return None

    for _ in range(COUNT):
        noop()
