import pytest

from airlock.definitions.dag import DAG
from airlock.definitions.dependencies import chain, cross_downstream
from airlock.exceptions import DagDefinitionError
from airlock.operators.empty import EmptyOperator


def _ops(dag, names):
    return [EmptyOperator(task_id=name, dag=dag) for name in names]


def test_rshift_chain_returns_right_side():
    """`a >> b >> c` links each task to the next, because >> returns its right-hand side."""
    d = DAG("d")
    a, b, c = _ops(d, "abc")
    assert (a >> b) is b
    b >> c
    assert a.downstream_task_ids == {"b"}
    assert c.upstream_task_ids == {"b"}
    assert b.upstream_list == [a]
    assert b.downstream_list == [c]


def test_lshift_sets_upstream():
    """`c << b` makes b run before c."""
    d = DAG("d")
    b, c = _ops(d, "bc")
    assert (c << b) is b
    assert c.upstream_task_ids == {"b"}


def test_lists_on_either_side():
    """`[a, b] >> c` and `a >> [b, c]` link every listed task."""
    d = DAG("d")
    a, b, c, x = _ops(d, "abcx")
    assert ([a, b] >> c) is c
    x >> [a, b]
    [a] << x
    assert c.upstream_task_ids == {"a", "b"}
    assert x.downstream_task_ids == {"a", "b"}


def test_set_upstream_and_downstream_accept_xcom_args():
    """set_upstream/set_downstream accept XComArgs and lists mixing them with operators."""
    d = DAG("d")
    a, b, c = _ops(d, "abc")
    c.set_upstream([a.output, b])
    a.output >> b
    assert c.upstream_task_ids == {"a", "b"}
    assert b.upstream_task_ids == {"a"}


def test_dependencies_across_dags_are_an_error():
    """Linking tasks of two different DAGs is an error naming both DAGs."""
    (a,) = _ops(DAG("one"), "a")
    (b,) = _ops(DAG("two"), "b")
    with pytest.raises(DagDefinitionError, match="'one' and 'two'"):
        a >> b


def test_task_without_dag_joins_the_other_tasks_dag():
    """A task without a DAG joins the DAG of the task it is linked to."""
    d = DAG("d")
    (a,) = _ops(d, "a")
    loose = EmptyOperator(task_id="loose")
    a >> loose
    assert loose.dag is d


def test_non_task_in_dependency_is_a_type_error():
    """Linking to something that is not a task raises TypeError naming its type."""
    (a,) = _ops(DAG("d"), "a")
    with pytest.raises(TypeError, match="cannot set a dependency on int"):
        a.set_downstream([1])


def test_chain_links_tasks_and_lists():
    """A chain links single tasks to every task of an adjacent list, and equal lists pairwise."""
    d = DAG("d")
    a, b1, b2, c1, c2, e = _ops(d, ["a", "b1", "b2", "c1", "c2", "e"])
    chain(a, [b1, b2], [c1, c2], e)
    assert a.downstream_task_ids == {"b1", "b2"}
    assert c1.upstream_task_ids == {"b1"}
    assert c2.upstream_task_ids == {"b2"}
    assert e.upstream_task_ids == {"c1", "c2"}


def test_chain_accepts_xcom_args():
    """A chain accepts XComArgs as well as operators."""
    d = DAG("d")
    a, b = _ops(d, "ab")
    chain(a.output, b)
    assert b.upstream_task_ids == {"a"}


def test_chain_unequal_lists_is_an_error():
    """A chain refuses two adjacent lists of different lengths, saying why."""
    d = DAG("d")
    a, b, c = _ops(d, "abc")
    with pytest.raises(DagDefinitionError, match="list of 2 tasks to a list of 1 tasks"):
        chain([a, b], [c])


def test_cross_downstream_links_every_pair():
    """cross_downstream makes every target run after every source."""
    d = DAG("d")
    a, b, x, y = _ops(d, "abxy")
    cross_downstream([a, b], [x, y])
    assert x.upstream_task_ids == {"a", "b"}
    assert y.upstream_task_ids == {"a", "b"}
