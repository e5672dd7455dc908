"""Task groups while a DAG is defined: ids, nesting, dependencies, defaults, errors."""

from __future__ import annotations

import pytest

from airlock import DAG, Label, TaskGroup, task, task_group
from airlock.exceptions import DagDefinitionError
from airlock.operators.empty import EmptyOperator


def test_ids_are_prefixed_and_nest():
    """Tasks get their groups' ids as prefix; prefix_group_id=False leaves them bare."""
    with DAG("d") as dag, TaskGroup("outer") as outer:
        EmptyOperator(task_id="a")
        with TaskGroup("inner"):
            EmptyOperator(task_id="b")
        with TaskGroup("flat", prefix_group_id=False):
            EmptyOperator(task_id="c")
    assert dag.task_ids == ["outer.a", "outer.inner.b", "c"]
    assert [t.task_id for t in outer.tasks] == ["outer.a", "outer.inner.b", "c"]
    assert dag.get_task("outer.inner.b").task_group.group_id == "outer.inner"


def test_linking_a_group_links_its_roots_and_leaves():
    """A >> group >> b links a to the group's roots and the group's leaves to b."""
    with DAG("d") as dag:
        a = EmptyOperator(task_id="a")
        with TaskGroup("g") as g:
            x = EmptyOperator(task_id="x")
            y = EmptyOperator(task_id="y")
            z = EmptyOperator(task_id="z")
            x >> y
        b = EmptyOperator(task_id="b")
        a >> g >> b
    assert dag.get_task("g.x").upstream_task_ids == {"a"}
    assert dag.get_task("g.z").upstream_task_ids == {"a"}
    assert b.upstream_task_ids == {"g.y", "g.z"}
    assert g.upstream_task_ids == {"a"}
    assert g.downstream_task_ids == {"b"}
    assert not y.upstream_task_ids - {x.task_id}
    assert z.task_group is g


def test_a_teardown_at_the_end_of_a_group_is_not_a_leaf():
    """What follows a group waits for its work, not for its closing teardown."""
    with DAG("d"), TaskGroup("g") as g:
        s = EmptyOperator(task_id="s").as_setup()
        w = EmptyOperator(task_id="w")
        t = EmptyOperator(task_id="t").as_teardown(setups=s)
        s >> w >> t
    assert [leaf.task_id for leaf in g.leaves] == ["g.w"]


def test_group_default_args_apply_over_the_dags():
    """A group's default_args override the DAG's for tasks created inside it, nested included."""
    with DAG("d", default_args={"retries": 1, "owner": "dag"}):
        with (
            TaskGroup("g", default_args={"retries": 3}),
            TaskGroup("h", default_args={"owner": "h"}),
        ):
            inner = EmptyOperator(task_id="t")
        outer = EmptyOperator(task_id="u")
    assert (inner.retries, inner.owner) == (3, "h")
    assert (outer.retries, outer.owner) == (1, "dag")


def test_duplicate_group_ids_fail_unless_suffixed():
    """A second group with the same id fails, naming it; add_suffix_on_collision adds __1."""
    with DAG("d"):
        TaskGroup("g")
        with pytest.raises(DagDefinitionError, match="group_id 'g' is already used in DAG 'd'"):
            TaskGroup("g")
        assert TaskGroup("g", add_suffix_on_collision=True).group_id == "g__1"


def test_bad_group_id_and_missing_dag_are_reported():
    """A group id with a dot, or a group outside any DAG, is refused with a clear message."""
    with pytest.raises(DagDefinitionError, match="has no DAG"):
        TaskGroup("lonely")
    with DAG("d"), pytest.raises(DagDefinitionError, match=r"group_id 'a\.b' is not valid"):
        TaskGroup("a.b")


def test_task_group_decorator_and_id_dedup_inside_groups():
    """@task_group builds a group per call; decorated task ids are deduplicated per group."""
    with DAG("d") as dag:

        @task
        def f():
            return 1

        @task_group
        def grp():
            f()
            f()

        first = grp()
        grp()
    assert isinstance(first, TaskGroup)
    assert dag.task_ids == ["grp.f", "grp.f__1", "grp__1.f", "grp__1.f__1"]


def test_labels_pass_dependencies_through():
    """A >> Label("x") >> b is a >> b; labels also link lists."""
    with DAG("d"):
        a, b, c = (EmptyOperator(task_id=n) for n in "abc")
        a >> Label("first") >> [b, c]
    assert b.upstream_task_ids == {"a"}
    assert c.upstream_task_ids == {"a"}
