"""Mapped tasks while a DAG is defined: partial/expand, transforms, and their mistakes."""

from __future__ import annotations

import pytest

from airlock import DAG, BashOperator, PythonOperator, task
from airlock.definitions.mapped import MappedOperator, mapped_consumers
from airlock.definitions.serialization import serialize_dag
from airlock.definitions.serialized import ExpandSpec, MapSource


def _double(x):
    return 2 * x


def test_expand_adds_one_mapped_task_with_partial_settings():
    """partial(...).expand(...) adds one task whose settings come from partial and default_args."""
    with DAG("d", default_args={"retries": 2}) as dag:
        op = PythonOperator.partial(task_id="t", python_callable=_double, pool="p").expand(
            op_args=[[1], [2]]
        )
    assert isinstance(op, MappedOperator)
    assert dag.task_ids == ["t"]
    assert (op.retries, op.pool, op.task_type) == (2, "p", "PythonOperator")
    assert op.is_mapped
    assert op.needs_expansion


def test_the_serialized_spec_counts_without_user_code():
    """Literal lengths and upstream references are serialized for the scheduler to count."""
    with DAG("d") as dag:

        @task
        def src():
            return [1]

        @task
        def f(x, y):
            return x

        s = src()
        f.partial(y=1).expand(x=s.map(str).zip(s, fillvalue=None))
        f.expand(x=[1, 2], y={"a": 1})
    spec = {t.task_id: t.expand for t in serialize_dag(dag).tasks}
    xcom = MapSource(kind="xcom", task_id="src")
    assert spec["f"] == ExpandSpec(
        kind="product",
        sources=(
            MapSource(kind="zip", args=(MapSource(kind="map", args=(xcom,)), xcom), fill=True),
        ),
    )
    assert spec["f__1"] == ExpandSpec(
        kind="product",
        sources=(MapSource(kind="literal", length=2), MapSource(kind="literal", length=1)),
    )
    assert spec["src"] is None


def test_the_upstream_of_a_mapped_task_knows_its_consumers():
    """A task that mapped tasks expand over knows which, to check what it returns."""
    with DAG("d"):

        @task
        def src():
            return [1]

        @task
        def f(x):
            return x

        out = src()
        f.expand(x=out)
        f(out)
    assert mapped_consumers(out.operator) == ["f"]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda: BashOperator.partial(bash_command="x").expand(env=[{}]),
            TypeError,
            "needs a task_id",
        ),
        (
            lambda: BashOperator.partial(task_id="t").expand(nope=[1]),
            TypeError,
            "unexpected keyword arguments: nope",
        ),
        (
            lambda: BashOperator.partial(task_id="t").expand(task_id=["a"]),
            TypeError,
            "cannot map task_id",
        ),
        (
            lambda: BashOperator.partial(task_id="t").expand(env=[{}]),
            TypeError,
            "BashOperator needs bash_command",
        ),
        (
            lambda: BashOperator.partial(task_id="t").expand(bash_command="echo"),
            ValueError,
            "value of type str",
        ),
        (
            lambda: BashOperator.partial(task_id="t").expand_kwargs([1]),
            TypeError,
            "item 0 is a int",
        ),
    ],
)
def test_mapping_mistakes_are_reported_at_definition(build, error, message):
    """Each mapping mistake raises at once, naming the task, argument or item."""
    with DAG("d"), pytest.raises(error, match=message):
        build()


def test_map_rejects_a_task_function():
    """XComArg.map takes plain functions; a @task is refused with a hint."""
    with DAG("d"):

        @task
        def src():
            return [1]

        with pytest.raises(TypeError, match="a @task cannot be a map function"):
            src().map(src)
