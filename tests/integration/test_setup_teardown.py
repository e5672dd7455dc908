"""Setup and teardown tasks follow Airflow's rules when they run and how they count, end to end."""

from __future__ import annotations

from tests.support import by_task


def states(report):
    """Each task's final state."""
    return {task_id: ti.state for task_id, ti in by_task(report).items()}


def test_teardown_runs_after_failed_work_and_the_run_fails(write_dag, run_dag):
    """A teardown runs even when the work failed; the work's failure still fails the run."""
    path = write_dag(
        """
        with DAG("td_after_failure") as dag:
            @task
            def create():
                return "cluster-1"

            @task
            def work(cluster):
                raise RuntimeError("work broke")

            @task
            def delete(cluster):
                return f"deleted {cluster}"

            cluster = create()
            work(cluster) >> delete(cluster).as_teardown(setups=cluster)
        """
    )
    report = run_dag(path)
    assert states(report) == {"create": "success", "work": "failed", "delete": "success"}
    assert by_task(report)["delete"].return_value == "deleted cluster-1"
    assert report.state == "failed"


def test_a_failing_teardown_does_not_fail_the_run_unless_asked(write_dag, run_dag):
    """A teardown's failure is ignored for the run's state, unless on_failure_fail_dagrun=True."""
    body = """
        from airlock import setup, teardown

        with DAG("td_fails") as dag:
            @setup
            def create():
                return 1

            @task
            def work():
                return 2

            @teardown(on_failure_fail_dagrun={flag})
            def delete():
                raise RuntimeError("cleanup broke")

            s, d = create(), delete()
            s >> work() >> d
            s >> d
        """
    ignored = run_dag(write_dag(body.replace("{flag}", "False"), name="ignored.py"))
    assert states(ignored)["delete"] == "failed"
    assert ignored.state == "success"
    counted = run_dag(write_dag(body.replace("{flag}", "True"), name="counted.py"))
    assert counted.state == "failed"


def test_failed_setup_blocks_work_and_teardown(write_dag, run_dag):
    """When every setup fails, the work and the teardown are upstream_failed."""
    path = write_dag(
        """
        with DAG("setup_fails") as dag:
            @task
            def create():
                raise RuntimeError("no cluster")

            @task
            def work():
                return 1

            @task
            def delete():
                return 2

            s = create().as_setup()
            s >> work() >> delete().as_teardown(setups=s)
        """
    )
    report = run_dag(path)
    assert states(report) == {
        "create": "failed",
        "work": "upstream_failed",
        "delete": "upstream_failed",
    }
    assert report.state == "failed"


def test_skipped_setup_skips_its_teardown(write_dag, run_dag):
    """A teardown whose setups were all skipped is skipped too."""
    path = write_dag(
        """
        with DAG("setup_skips") as dag:
            @task
            def create():
                raise AirlockSkipException("nothing to set up")

            @task
            def delete():
                return 2

            s = create().as_setup()
            s >> delete().as_teardown(setups=s)
        """
    )
    report = run_dag(path)
    assert states(report) == {"create": "skipped", "delete": "skipped"}


def test_context_manager_wraps_the_block_with_setup_and_teardown(write_dag, run_dag):
    """`with setup >> teardown:` runs the block's tasks after the setup, before the teardown."""
    path = write_dag(
        """
        from airlock import setup, teardown

        with DAG("with_block") as dag:
            @setup
            def create():
                return time.time_ns()

            @teardown
            def delete():
                return time.time_ns()

            @task
            def work():
                return time.time_ns()

            with create() >> delete():
                work()
                work()
        """
    )
    report = run_dag(path)
    at = {task_id: ti.return_value for task_id, ti in by_task(report).items()}
    assert report.state == "success"
    assert at["create"] < min(at["work"], at["work__1"])
    assert max(at["work"], at["work__1"]) < at["delete"]


def test_work_after_an_indirect_failed_setup_is_upstream_failed(write_dag, run_dag):
    """A task whose indirect setup failed does not run, whatever its own trigger rule says."""
    path = write_dag(
        """
        with DAG("indirect") as dag:
            @task
            def create():
                raise RuntimeError("setup broke")

            @task(trigger_rule="all_done")
            def first():
                return 1

            @task(trigger_rule="all_done")
            def second():
                return 2

            @task
            def delete():
                return 3

            s = create().as_setup()
            s >> first() >> second() >> delete().as_teardown(setups=s)
        """
    )
    report = run_dag(path)
    found = states(report)
    assert found["first"] == "success"
    assert found["second"] == "upstream_failed"
