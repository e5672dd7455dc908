"""Branching and short-circuiting skip tasks through the API; trigger rules carry it further."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support import by_task

OPERATORS = "from airlock import EmptyOperator, BranchPythonOperator, ShortCircuitOperator\n"


def _states(report):
    return {task_id: ti.state for task_id, ti in by_task(report).items()}


def test_branch_follows_the_returned_task_and_skips_the_others(write_dag, run_dag):
    """@task.branch runs the chosen task, skips the other branch, and a join still runs."""
    path = write_dag(
        OPERATORS
        + """
with DAG("branch") as dag:
    @task.branch
    def pick():
        return "left"

    left, right = EmptyOperator(task_id="left"), EmptyOperator(task_id="right")
    after_right = EmptyOperator(task_id="after_right")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    pick() >> [left, right]
    right >> after_right
    [left, after_right] >> join
"""
    )
    report = run_dag(path)
    assert report.state == "success"
    assert _states(report) == {
        "pick": "success",
        "left": "success",
        "right": "skipped",
        "after_right": "skipped",
        "join": "success",
    }
    assert by_task(report)["pick"].return_value is None  # it skipped tasks: no XCom, as Airflow


def test_branch_to_a_list_none_and_an_empty_branch_to_the_join(write_dag, run_dag):
    """A branch may return a list or None; a join right after a followed branch is kept."""
    path = write_dag(
        OPERATORS
        + """
with DAG("branches") as dag:
    many = BranchPythonOperator(task_id="many", python_callable=lambda: ["a", "b"])
    many >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b"), EmptyOperator(task_id="c")]
    none = BranchPythonOperator(task_id="none", python_callable=lambda: None)
    none >> [EmptyOperator(task_id="d"), EmptyOperator(task_id="e")]
    to_join = BranchPythonOperator(task_id="to_join", python_callable=lambda: "x")
    x = EmptyOperator(task_id="x")
    joined = EmptyOperator(task_id="joined", trigger_rule="none_failed")
    to_join >> [x, joined]
    x >> joined
"""
    )
    states = _states(run_dag(path))
    assert [states[t] for t in "abc"] == ["success", "success", "skipped"]
    assert [states[t] for t in "de"] == ["skipped", "skipped"]
    assert (states["x"], states["joined"]) == ("success", "success")


def test_a_branch_to_an_unknown_task_fails_clearly(write_dag, run_dag):
    """Returning an id that is neither a task nor a group fails the branch task, naming it."""
    path = write_dag(
        OPERATORS
        + """
with DAG("bad_branch") as dag:
    pick = BranchPythonOperator(task_id="pick", python_callable=lambda: "nowhere")
    pick >> EmptyOperator(task_id="a")
"""
    )
    ti = by_task(run_dag(path))["pick"]
    assert ti.state == "failed"
    assert "branch 'nowhere' is not a task or task group of DAG 'bad_branch'" in ti.reason


def test_custom_branch_operators_choose_in_choose_branch(write_dag, run_dag):
    """choose_branch decides for custom, date and weekday branch operators (by logical date)."""
    path = write_dag(
        OPERATORS
        + """
from datetime import time
from airlock import BaseBranchOperator, BranchDateTimeOperator, BranchDayOfWeekOperator, WeekDay

class Even(BaseBranchOperator):
    def choose_branch(self, context):
        return "even" if context["logical_date"].day % 2 == 0 else "odd"

with DAG("custom") as dag:
    Even(task_id="parity") >> [EmptyOperator(task_id="even"), EmptyOperator(task_id="odd")]
    BranchDateTimeOperator(
        task_id="window", follow_task_ids_if_true="inside", follow_task_ids_if_false="outside",
        target_lower=time(9, 0), target_upper=time(17, 0), use_task_logical_date=True,
    ) >> [EmptyOperator(task_id="inside"), EmptyOperator(task_id="outside")]
    BranchDayOfWeekOperator(
        task_id="weekday", follow_task_ids_if_true="weekend", follow_task_ids_if_false="workday",
        week_day={WeekDay.SATURDAY, "Sunday"}, use_task_logical_date=True,
    ) >> [EmptyOperator(task_id="weekend"), EmptyOperator(task_id="workday")]
"""
    )
    states = _states(run_dag(path, logical_date=datetime(2026, 1, 3, 20, 0, tzinfo=UTC)))
    assert (states["even"], states["odd"]) == ("skipped", "success")
    assert (states["inside"], states["outside"]) == ("skipped", "success")
    assert (states["weekend"], states["workday"]) == ("success", "skipped")


def test_short_circuit_skips_everything_downstream_by_default(write_dag, run_dag):
    """A falsy @task.short_circuit skips all downstream tasks, whatever their trigger rules."""
    path = write_dag(
        OPERATORS
        + """
with DAG("short") as dag:
    @task.short_circuit
    def check():
        return 0

    last = EmptyOperator(task_id="last", trigger_rule="all_done")
    check() >> EmptyOperator(task_id="next") >> last
"""
    )
    report = run_dag(path)
    assert _states(report) == {"check": "success", "next": "skipped", "last": "skipped"}
    assert by_task(report)["check"].return_value is None  # it skipped tasks: no XCom


def test_short_circuit_can_leave_trigger_rules_to_decide(write_dag, run_dag):
    """With ignore_downstream_trigger_rules=False only direct downstream tasks are skipped."""
    path = write_dag(
        OPERATORS
        + """
with DAG("short_rules") as dag:
    check = ShortCircuitOperator(
        task_id="check", python_callable=lambda: False, ignore_downstream_trigger_rules=False
    )
    check >> EmptyOperator(task_id="next") >> EmptyOperator(task_id="last", trigger_rule="all_done")
    ok = ShortCircuitOperator(task_id="ok", python_callable=lambda: "yes")
    ok >> EmptyOperator(task_id="runs")
"""
    )
    states = _states(run_dag(path))
    assert (states["next"], states["last"], states["runs"]) == ("skipped", "success", "success")


def test_latest_only_lets_a_manual_run_through(write_dag, run_dag):
    """LatestOnlyOperator never skips in a run triggered by hand."""
    path = write_dag(
        """
from airlock import EmptyOperator, LatestOnlyOperator
with DAG("latest") as dag:
    LatestOnlyOperator(task_id="latest_only") >> EmptyOperator(task_id="after")
"""
    )
    assert _states(run_dag(path))["after"] == "success"


def test_skip_and_fail_exceptions_choose_the_outcome(write_dag, run_dag):
    """AirlockSkipException skips (and its downstream); AirlockFailException fails with no retry."""
    path = write_dag(
        OPERATORS
        + """
with DAG("exceptions") as dag:
    @task
    def skip_me():
        raise AirlockSkipException("nothing to do")

    @task(retries=3, retry_delay=0)
    def fail_me():
        raise AirlockFailException("bad input")

    skip_me() >> EmptyOperator(task_id="after_skip")
    fail_me()
"""
    )
    tis = by_task(run_dag(path))
    assert (tis["skip_me"].state, tis["after_skip"].state) == ("skipped", "skipped")
    assert (tis["fail_me"].state, tis["fail_me"].try_number) == ("failed", 1)
    assert tis["fail_me"].reason == "AirlockFailException: bad input"


def test_a_branch_may_name_a_task_group(write_dag, run_dag):
    """Returning a task group's id follows the group's root tasks and skips the other branch."""
    path = write_dag(
        OPERATORS
        + """
from airlock.definitions.taskgroup import TaskGroup
with DAG("branch_group") as dag:
    pick = BranchPythonOperator(task_id="pick", python_callable=lambda: "grp")
    with TaskGroup("grp") as grp:
        EmptyOperator(task_id="first") >> EmptyOperator(task_id="second")
    pick >> [grp, EmptyOperator(task_id="other")]
"""
    )
    states = _states(run_dag(path))
    assert (states["grp.first"], states["grp.second"]) == ("success", "success")
    assert states["other"] == "skipped"
