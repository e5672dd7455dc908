"""One no-op task: the fixed latency of a run."""

from airlock import DAG, task

with DAG("noop_1") as dag:

    @task
    def noop():
        return None

    noop()
