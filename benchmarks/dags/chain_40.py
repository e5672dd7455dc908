"""A 40-task linear chain of no-op tasks: the latency from one task's end to the next's start."""

from airlock import DAG, chain, task

with DAG("chain_40") as dag:

    @task
    def step():
        return None

    chain(*[step() for _ in range(40)])
