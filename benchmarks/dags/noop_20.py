"""Twenty independent no-op tasks: the fixed cost of running a task through airlock."""

from airlock import DAG, task

with DAG("noop_20") as dag:

    @task
    def noop():
        return None

    for _ in range(20):
        noop()
