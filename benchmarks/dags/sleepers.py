"""BENCH_TASKS independent tasks that each sleep BENCH_SLEEP seconds: memory per running task."""

import os
import time

from airlock import DAG, task

COUNT = int(os.environ.get("BENCH_TASKS", "200"))
SLEEP = float(os.environ.get("BENCH_SLEEP", "20"))

with DAG("sleepers", max_active_tasks=100_000) as dag:

    @task
    def sleep():
        time.sleep(SLEEP)

    for _ in range(COUNT):
        sleep()
