"""Setup and teardown tasks while a DAG is defined: marking, decorators and `with` blocks."""

from __future__ import annotations

import pytest

from airlock import DAG, setup, task, teardown
from airlock.definitions.serialization import serialize_dag
from airlock.exceptions import DagDefinitionError
from airlock.operators.empty import EmptyOperator


def test_as_teardown_marks_links_and_sets_the_trigger_rule():
    """as_teardown(setups=s) marks s as setup, links s >> t and gives t all_done_setup_success."""
    with DAG("d") as dag:
        s = EmptyOperator(task_id="s")
        t = EmptyOperator(task_id="t").as_teardown(setups=s, on_failure_fail_dagrun=True)
    assert s.is_setup
    assert t.is_teardown
    assert t.on_failure_fail_dagrun
    assert t.upstream_task_ids == {"s"}
    assert t.trigger_rule == "all_done_setup_success"
    serialized = {x.task_id: x for x in serialize_dag(dag).tasks}
    assert serialized["s"].is_setup
    assert serialized["t"].is_teardown
    assert serialized["t"].on_failure_fail_dagrun


def test_decorators_mark_the_tasks_they_create():
    """@setup and @teardown(on_failure_fail_dagrun=...) mark every task their functions create."""
    with DAG("d"):

        @setup
        def make():
            return 1

        @teardown(on_failure_fail_dagrun=True)
        def drop():
            return 2

        @setup
        @task(retries=3)
        def make_more():
            return 3

        made, dropped, more = make(), drop(), make_more()
    assert made.operator.is_setup
    assert more.operator.is_setup
    assert more.operator.retries == 3
    assert dropped.operator.is_teardown
    assert dropped.operator.on_failure_fail_dagrun


def test_with_block_wraps_its_tasks_and_nests():
    """Blocks wrap their tasks; inner setups follow the outer ones, inner teardowns precede them."""
    with DAG("d") as dag:
        s1 = EmptyOperator(task_id="s1").as_setup()
        t1 = EmptyOperator(task_id="t1").as_teardown(setups=s1)
        with t1:
            w1 = EmptyOperator(task_id="w1")
            s2 = EmptyOperator(task_id="s2").as_setup()
            EmptyOperator(task_id="t2").as_teardown(setups=s2)
            with s2:
                w2 = EmptyOperator(task_id="w2")
    up = {tid: task.upstream_task_ids for tid, task in dag.task_dict.items()}
    assert up["w1"] == {"s1"}
    assert up["t1"] == {"s1", "w1", "t2"}
    assert up["w2"] == {"s2"}
    assert up["t2"] == {"s2", "w2"}
    assert up["s2"] == {"s1"}
    assert w1.downstream_task_ids == {"t1"}
    assert w2.downstream_task_ids == {"t2"}


def test_only_setup_or_teardown_tasks_open_a_block():
    """Using a plain task as a context manager is an error naming the task."""
    with DAG("d"):
        plain = EmptyOperator(task_id="plain")
        with pytest.raises(DagDefinitionError, match="task 'plain' is used as a context manager"):
            plain.__enter__()
