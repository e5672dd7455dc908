"""Tokens are refreshed while a task runs, so tasks longer than a token's life keep working."""

from __future__ import annotations

from dataclasses import replace

from tests.support import by_task


def test_task_outliving_its_token_keeps_working(write_dag, run_dag, fast_settings):
    """A task running for several token lifetimes still reads and writes through the API."""
    path = write_dag(
        """
        with DAG("long") as dag:
            @task
            def first():
                return "hello"

            @task
            def long_one(value):
                time.sleep(5)
                Variable.set("after_sleep", value)
                return Variable.get("after_sleep")

            long_one(first())
        """
    )
    settings = replace(fast_settings, token_lifetime=2.0, heartbeat_interval=0.3)
    report = run_dag(path, settings=settings)
    assert by_task(report)["long_one"].return_value == "hello"
