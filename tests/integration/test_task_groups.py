"""Task groups: prefixed ids, nesting, group dependencies and defaults, run end to end."""

from __future__ import annotations

from tests.support import by_task


def test_group_prefixes_ids_and_links_as_a_whole(write_dag, run_dag):
    """Tasks in groups get prefixed ids; a >> group >> b orders a, the group's tasks, then b."""
    path = write_dag(
        """
        from airlock import TaskGroup

        ORDER = []

        with DAG("groups") as dag:
            @task
            def stamp(name):
                return time.time_ns()

            start = stamp.override(task_id="start")("start")
            with TaskGroup("outer") as outer:
                first = stamp("first")
                with TaskGroup("inner") as inner:
                    second = stamp("second")
                    third = stamp("third")
                first >> inner
            end = stamp.override(task_id="end")("end")
            start >> outer >> end
        """
    )
    report = run_dag(path)
    tis = by_task(report)
    assert report.state == "success"
    assert set(tis) == {
        "start",
        "outer.stamp",
        "outer.inner.stamp",
        "outer.inner.stamp__1",
        "end",
    }
    at = {task_id: ti.return_value for task_id, ti in tis.items()}
    assert at["start"] < at["outer.stamp"] < at["outer.inner.stamp"] < at["end"]
    assert at["outer.inner.stamp__1"] < at["end"]


def test_group_default_args_apply_to_its_tasks(write_dag, run_dag):
    """default_args of a group override the DAG's for the group's tasks only."""
    path = write_dag(
        """
        from airlock import TaskGroup

        with DAG("defaults", default_args={"retries": 0}) as dag:
            @task
            def flaky(ti=None):
                if ti.try_number < 2:
                    raise RuntimeError("first try fails")
                return ti.try_number

            with TaskGroup("retrying", default_args={"retries": 1, "retry_delay": 0}):
                flaky()
            flaky()
        """
    )
    report = run_dag(path)
    tis = by_task(report)
    assert (tis["retrying.flaky"].state, tis["retrying.flaky"].return_value) == ("success", 2)
    assert tis["flaky"].state == "failed"


def test_task_group_decorator_returns_the_function_result(write_dag, run_dag):
    """@task_group builds a group per call (group__1 for the second), passing values through."""
    path = write_dag(
        """
        from airlock import task_group

        with DAG("decorated") as dag:
            @task
            def add(x, y):
                return x + y

            @task_group
            def twice(x):
                return add(add(x, 1), 1)

            @task
            def report(a, b):
                return [a, b]

            report(twice(1), twice(10))
        """
    )
    report = run_dag(path)
    tis = by_task(report)
    assert tis["report"].return_value == [3, 12]
    assert {"twice.add", "twice.add__1", "twice__1.add", "twice__1.add__1"} <= set(tis)


def test_a_group_is_linked_to_a_group(write_dag, run_dag):
    """group1 >> group2 makes group2's roots wait for group1's leaves."""
    path = write_dag(
        """
        from airlock import TaskGroup

        with DAG("g2g") as dag:
            @task
            def stamp():
                return time.time_ns()

            with TaskGroup("one") as one:
                stamp()
                stamp()
            with TaskGroup("two") as two:
                stamp()
            one >> two
        """
    )
    report = run_dag(path)
    at = {task_id: ti.return_value for task_id, ti in by_task(report).items()}
    assert max(at["one.stamp"], at["one.stamp__1"]) < at["two.stamp"]
