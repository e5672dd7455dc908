"""Dynamic task mapping runs each mapped task instance through the real supervisor/runner path."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from airlock.exceptions import DagFileError


def mapped(report):
    """The report's task instances as {task_id: {map_index: ti}}."""
    found = defaultdict(dict)
    for ti in report.task_instances:
        found[ti.task_id][ti.map_index] = ti
    return found


def values(report, task_id):
    """The return values of a task's task instances, in map index order."""
    tis = mapped(report)[task_id]
    return [tis[index].return_value for index in sorted(tis)]


def states(report, task_id):
    """The states of a task's task instances, in map index order."""
    tis = mapped(report)[task_id]
    return [tis[index].state for index in sorted(tis)]


def test_expand_over_a_literal_list_and_reduce(write_dag, run_dag):
    """A task expanded over a list runs once per item; a reduce task gets every output in order."""
    path = write_dag(
        """
        with DAG("lit") as dag:
            @task
            def add_one(x):
                return x + 1

            @task
            def total(values):
                return {"sum": sum(values), "len": len(values), "first": values[0],
                        "last": values[-1], "items": list(values)}

            total(add_one.expand(x=[1, 2, 3]))
        """
    )
    report = run_dag(path)
    assert report.state == "success"
    assert sorted(mapped(report)["add_one"]) == [0, 1, 2]
    assert values(report, "add_one") == [2, 3, 4]
    assert values(report, "total") == [
        {"sum": 9, "len": 3, "first": 2, "last": 4, "items": [2, 3, 4]}
    ]


def test_expand_over_an_upstream_xcom_with_partial(write_dag, run_dag):
    """Expanding over an upstream's list makes one task instance per item, with partial args."""
    path = write_dag(
        """
        with DAG("xcom_in") as dag:
            @task
            def numbers():
                return [10, 20, 30, 40]

            @task
            def scale(x, factor):
                return x * factor

            scale.partial(factor=3).expand(x=numbers())
        """
    )
    report = run_dag(path)
    assert report.state == "success"
    assert values(report, "scale") == [30, 60, 90, 120]


def test_cross_product_and_dict_expansion(write_dag, run_dag):
    """Mapped arguments multiply (the last varies fastest); a dict maps over (key, value) pairs."""
    path = write_dag(
        """
        with DAG("product") as dag:
            @task
            def pair(x, y):
                return f"{x}{y}"

            @task
            def entry(item):
                key, value = item
                return f"{key}={value}"

            pair.expand(x=["a", "b"], y=[1, 2, 3])
            entry.expand(item={"k1": 1, "k2": 2})
        """
    )
    report = run_dag(path)
    assert values(report, "pair") == ["a1", "a2", "a3", "b1", "b2", "b3"]
    assert values(report, "entry") == ["k1=1", "k2=2"]


def test_expand_kwargs_literal_and_from_xcom(write_dag, run_dag):
    """expand_kwargs maps over a list of argument dicts, given literally or by an upstream task."""
    path = write_dag(
        """
        with DAG("kwargs") as dag:
            @task
            def make():
                return [{"a": 1, "b": 2}, {"a": 5, "b": 5}]

            @task
            def plus(a, b):
                return a + b

            plus.expand_kwargs([{"a": 1, "b": 1}, {"a": 2, "b": 3}])
            plus.expand_kwargs(make())
        """
    )
    report = run_dag(path)
    assert values(report, "plus") == [2, 5]
    assert values(report, "plus__1") == [3, 10]


def test_map_zip_and_concat(write_dag, run_dag):
    """XComArg.map transforms items lazily; zip pairs inputs (fillvalue pads); concat chains."""
    path = write_dag(
        """
        with DAG("transforms") as dag:
            @task
            def letters():
                return ["a", "b", "c"]

            @task
            def numbers():
                return [1, 2]

            @task
            def show(item):
                return list(item) if isinstance(item, tuple) else item

            def upper(value):
                return value.upper()

            show.override(task_id="mapped").expand(item=letters().map(upper))
            l2, n2 = letters(), numbers()
            show.override(task_id="zipped").expand(item=l2.zip(n2))
            show.override(task_id="zipped_long").expand(item=l2.zip(n2, fillvalue=0))
            show.override(task_id="chained").expand(item=l2.concat(n2))
        """
    )
    report = run_dag(path)
    assert report.state == "success"
    assert values(report, "mapped") == ["A", "B", "C"]
    assert values(report, "zipped") == [["a", 1], ["b", 2]]
    assert values(report, "zipped_long") == [["a", 1], ["b", 2], ["c", 0]]
    assert values(report, "chained") == ["a", "b", "c", 1, 2]


def test_expanding_over_an_empty_list_skips_the_task(write_dag, run_dag):
    """A task mapped over an empty input is skipped, and so is what depends on it."""
    path = write_dag(
        """
        with DAG("empty") as dag:
            @task
            def nothing():
                return []

            @task
            def work(x):
                return x

            @task
            def after(values):
                return list(values)

            after(work.expand(x=nothing()))
        """
    )
    report = run_dag(path)
    assert report.state == "success"
    assert mapped(report)["work"][-1].state == "skipped"
    assert states(report, "after") == ["skipped"]


def test_downstream_waits_for_every_mapped_instance_and_counts_failures(write_dag, run_dag):
    """A failed mapped task instance makes all_success downstream upstream_failed; all_done runs."""
    path = write_dag(
        """
        with DAG("counting") as dag:
            @task
            def maybe_fail(x):
                if x == 2:
                    raise ValueError("two")
                time.sleep(0.2 * x)
                return x

            @task
            def strict(values):
                return 1

            @task(trigger_rule="all_done")
            def lenient(values):
                return list(values)

            out = maybe_fail.expand(x=[1, 2, 3])
            strict(out)
            lenient(out)
        """
    )
    report = run_dag(path)
    assert report.state == "failed"
    assert states(report, "maybe_fail") == ["success", "failed", "success"]
    assert states(report, "strict") == ["upstream_failed"]
    assert values(report, "lenient") == [[1, 3]]


def test_classic_operator_partial_expand(write_dag, run_dag):
    """Operator.partial(...).expand(...) runs the plain operator with each mapped argument."""
    path = write_dag(
        """
        from airlock import PythonOperator

        def double(x):
            return 2 * x

        with DAG("classic") as dag:
            PythonOperator.partial(task_id="double", python_callable=double).expand(
                op_args=[[1], [2], [3]]
            )
            PythonOperator.partial(task_id="kw", python_callable=double).expand_kwargs(
                [{"op_kwargs": {"x": 5}}, {"op_kwargs": {"x": 6}}]
            )
        """
    )
    report = run_dag(path)
    assert report.state == "success"
    assert values(report, "double") == [2, 4, 6]
    assert values(report, "kw") == [10, 12]


def test_mapped_instances_see_their_own_map_index(write_dag, run_dag):
    """context["ti"].map_index is each mapped task instance's own index."""
    path = write_dag(
        """
        from airlock import get_current_context

        with DAG("indexes") as dag:
            @task
            def which(x):
                ctx = get_current_context()
                return [ctx["ti"].map_index, ctx["map_index"], x]

            which.expand(x=["p", "q"])
        """
    )
    report = run_dag(path)
    assert values(report, "which") == [[0, 0, "p"], [1, 1, "q"]]


def test_xcom_pull_of_a_mapped_task_returns_every_value(write_dag, run_dag):
    """ti.xcom_pull(task_ids=mapped) without map_indexes returns all mapped values, as Airflow 3."""
    path = write_dag(
        """
        with DAG("pull") as dag:
            @task
            def square(x):
                return x * x

            @task
            def collect(ti=None):
                return {"all": ti.xcom_pull(task_ids="square"),
                        "one": ti.xcom_pull(task_ids="square", map_indexes=1)}

            square.expand(x=[1, 2, 3]) >> collect()
        """
    )
    report = run_dag(path)
    assert values(report, "collect") == [{"all": [1, 4, 9], "one": 4}]


def test_mapped_task_group(write_dag, run_dag):
    """A mapped task group runs its tasks once per item; index i of a task follows index i."""
    path = write_dag(
        """
        from airlock import task_group

        with DAG("group_map") as dag:
            @task
            def add_one(x):
                if x == 2:
                    raise ValueError("bad item")
                return x + 1

            @task
            def double(x):
                return x * 2

            @task(trigger_rule="all_done")
            def gather(values):
                return list(values)

            @task_group
            def pipeline(x):
                return double(add_one(x))

            gather(pipeline.expand(x=[1, 2, 3]))
        """
    )
    report = run_dag(path)
    assert states(report, "pipeline.add_one") == ["success", "failed", "success"]
    assert states(report, "pipeline.double") == ["success", "upstream_failed", "success"]
    assert values(report, "pipeline.double") == [4, None, 8]
    assert values(report, "gather") == [[4, 8]]


def test_too_many_items_fail_the_mapped_task_clearly(write_dag, run_dag, fast_settings):
    """Expanding past max_map_length fails the mapped task with a reason naming the limit."""
    path = write_dag(
        """
        with DAG("too_long") as dag:
            @task
            def many():
                return list(range(5))

            @task
            def each(x):
                return x

            each.expand(x=many())
        """
    )
    settings = fast_settings.with_changes(max_map_length=3)
    report = run_dag(path, settings=settings)
    ti = mapped(report)["each"][-1]
    assert (report.state, ti.state) == ("failed", "failed")
    assert "5 task instances" in ti.reason
    assert "max_map_length=3" in ti.reason


def test_upstream_returning_a_non_list_fails_the_producer(write_dag, run_dag):
    """A task that a mapped task expands over must return a list or dict; the error names both."""
    path = write_dag(
        """
        with DAG("not_a_list") as dag:
            @task
            def one():
                return 7

            @task
            def each(x):
                return x

            each.expand(x=one())
        """
    )
    report = run_dag(path)
    producer = mapped(report)["one"][-1]
    assert producer.state == "failed"
    assert "returned a value of type int, but 'each' expand over it" in producer.reason
    assert states(report, "each") == ["upstream_failed"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("f.expand(x=5)", "expand() got a value of type int for argument 'x'"),
        ("f.partial(x=1).expand(x=[1])", "x given to both partial() and expand()"),
        ("f.expand(nope=[1])", "f() has no argument nope to map over"),
    ],
)
def test_bad_expand_arguments_fail_the_dag_file(write_dag, run_dag, body, message):
    """Mapping mistakes are reported when the DAG file is parsed, naming the argument."""
    path = write_dag(
        f"""
        with DAG("bad") as dag:
            @task
            def f(x):
                return x

            {body}
        """
    )
    with pytest.raises(DagFileError, match=re.escape(message)):
        run_dag(path)
