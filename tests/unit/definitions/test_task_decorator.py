import typing
from collections.abc import Mapping

import pytest

from airlock.definitions.dag import DAG
from airlock.definitions.decorators import DecoratedPythonOperator, TaskDecorator, task
from airlock.definitions.xcom_arg import XComArg


class FakeTaskInstance:
    """A task instance whose XComs are a dict keyed by (task_id, key)."""

    def __init__(self, xcoms):
        self.xcoms = xcoms

    def xcom_pull(self, task_ids=None, key="return_value", **_):
        """Return the stored XCom."""
        return self.xcoms[(task_ids, key)]


def test_calling_a_task_adds_an_operator_and_returns_its_xcom_arg():
    """Calling a @task function in a DAG adds a DecoratedPythonOperator and returns its XComArg."""

    @task
    def extract():
        return 1

    with DAG("d") as d:
        result = extract()
    assert isinstance(result, XComArg)
    assert isinstance(result.operator, DecoratedPythonOperator)
    assert d.task_ids == ["extract"]
    assert result.operator.python_callable is extract.function


def test_task_decorator_forms():
    """`@task`, `@task()`, `@task(...)` and `@task.python(...)` all give a TaskDecorator."""

    def f():
        return None

    for decorated in (task(f), task()(f), task(retries=2)(f), task.python(retries=2)(f)):
        assert isinstance(decorated, TaskDecorator)
        assert decorated.function is f
    assert task.python(retries=2)(f).kwargs == {"retries": 2}


def test_xcom_args_in_arguments_become_upstream_tasks():
    """XComArgs anywhere in a task call's arguments make their tasks upstream of the new task."""

    @task
    def source():
        return 1

    @task
    def sink(*args, **kwargs):
        return None

    with DAG("d"):
        a, b, c = source(), source(), source()
        out = sink(a, [1, {"x": b}], named={"deep": (c,)})
    assert out.operator.upstream_task_ids == {"source", "source__1", "source__2"}
    assert out.operator.op_args == [a, [1, {"x": b}]]
    assert out.operator.op_kwargs == {"named": {"deep": (c,)}}


def test_repeated_calls_get_suffixed_task_ids():
    """Calling the same @task twice in a DAG gives ids `name`, `name__1`, `name__2`."""

    @task
    def step():
        return None

    with DAG("d") as d:
        step()
        step()
        step.override(task_id="step")()
    assert d.task_ids == ["step", "step__1", "step__2"]


def test_task_id_and_operator_kwargs_are_applied():
    """@task keyword arguments such as task_id and retries configure the created task."""

    @task(task_id="custom", retries=4)
    def f():
        return None

    with DAG("d"):
        op = f().operator
    assert (op.task_id, op.retries) == ("custom", 4)


def test_override_returns_new_decorator_with_merged_kwargs():
    """override() gives a new decorated function with merged arguments; the original stays."""

    @task(retries=1, queue="q")
    def f():
        return None

    changed = f.override(retries=5)
    assert changed is not f
    assert changed.kwargs == {"retries": 5, "queue": "q"}
    assert f.kwargs == {"retries": 1, "queue": "q"}


def test_unknown_task_keyword_fails_at_decoration():
    """A misspelt @task keyword is a TypeError when the decorator is applied."""
    with pytest.raises(TypeError, match="retires"):
        task(retires=1)(lambda: None)


def _returns_dict() -> dict[str, int]:
    return {}


def _returns_typing_dict() -> typing.Dict[str, int]:  # noqa: UP006 -- the old spelling is the test
    return {}


class _MyMapping(Mapping):
    """A Mapping that is not a dict."""

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


def _returns_mapping_subclass() -> _MyMapping:
    return _MyMapping()


def _returns_bare_dict() -> dict:
    return {}


def _returns_list() -> list[int]:
    return []


def _returns_unresolvable() -> "NoSuchType":  # noqa: F821 -- unresolvable on purpose
    return None


def _returns_nothing():
    return None


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (_returns_dict, True),
        (_returns_typing_dict, True),
        (_returns_mapping_subclass, True),
        (_returns_bare_dict, True),
        (_returns_list, False),
        (_returns_unresolvable, False),
        (_returns_nothing, False),
    ],
)
def test_multiple_outputs_inferred_from_return_annotation(function, expected):
    """multiple_outputs defaults to True when the return annotation is a mapping type."""
    assert task(function).multiple_outputs is expected


def test_explicit_multiple_outputs_wins_over_inference():
    """An explicit multiple_outputs=False is kept even for a dict return annotation."""
    assert task(multiple_outputs=False)(_returns_dict).multiple_outputs is False


def test_execute_resolves_xcom_args_and_calls_the_function():
    """At run time the task's XComArg arguments are replaced by pulled values before the call."""

    @task
    def source():
        return None

    @task
    def add(x, y, *, z):
        return x + y + z

    with DAG("d"):
        out = add(source(), 2, z=source.override(task_id="other")())
    ti = FakeTaskInstance({("source", "return_value"): 1, ("other", "return_value"): 10})
    assert out.operator.execute({"ti": ti}) == 13


def test_multiple_outputs_requires_a_dict_result():
    """A multiple_outputs task returning a non-dict fails naming the task and the returned type."""

    @task(multiple_outputs=True)
    def wrong():
        return [1, 2]

    op = wrong().operator
    with pytest.raises(TypeError, match=r"task 'wrong' .* returned list"):
        op.execute({})


def test_multiple_outputs_requires_str_keys():
    """A multiple_outputs task returning a dict with a non-str key fails naming the key."""

    @task(multiple_outputs=True)
    def wrong():
        return {1: "one"}

    with pytest.raises(TypeError, match=r"key 1 \(int\)"):
        wrong().operator.execute({})


def test_multiple_outputs_allows_none():
    """A multiple_outputs task may return None, which pushes nothing."""

    @task(multiple_outputs=True)
    def nothing():
        return None

    assert nothing().operator.execute({}) is None


def test_task_called_outside_a_dag_has_no_dag():
    """Calling a @task function outside any DAG creates a task without a DAG."""

    @task
    def loose():
        return None

    assert not loose().operator.has_dag()
