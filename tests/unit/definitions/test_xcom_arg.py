from collections import OrderedDict, defaultdict
from typing import NamedTuple

import pytest

from airlock.definitions.xcom_arg import XComArg, iter_xcom_args, resolve_xcom_args
from airlock.operators.empty import EmptyOperator


class FakeTaskInstance:
    """A task instance whose XComs are a dict keyed by (task_id, key)."""

    def __init__(self, xcoms):
        self.xcoms = xcoms
        self.pulls = []

    def xcom_pull(self, task_ids=None, key="return_value", **_):
        """Record the pull and return the stored XCom."""
        self.pulls.append((task_ids, key))
        return self.xcoms[(task_ids, key)]


class _Pair(NamedTuple):
    """A namedtuple to resolve XComArgs in."""

    left: object
    right: object


@pytest.fixture
def ops():
    """Two operators without a DAG."""
    return EmptyOperator(task_id="a"), EmptyOperator(task_id="b")


def test_getitem_references_another_key_of_the_same_task(ops):
    """`xcom_arg["k"]` refers to the XCom `k` of the same task (for multiple_outputs)."""
    a, _ = ops
    item = a.output["total"]
    assert item.operator is a
    assert item.key == "total"


def test_xcom_arg_is_not_iterable(ops):
    """Iterating an XComArg while defining a DAG fails fast instead of looping forever."""
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(ops[0].output)


def test_resolve_pulls_through_the_task_instance(ops):
    """resolve() pulls the referenced task's XCom through context["ti"]."""
    ti = FakeTaskInstance({("a", "return_value"): 42})
    assert ops[0].output.resolve({"ti": ti}) == 42
    assert ti.pulls == [("a", "return_value")]


def test_iter_xcom_args_walks_nested_containers(ops):
    """iter_xcom_args finds XComArgs in lists, tuples, sets, dict keys and dict values."""
    a, b = ops
    k = a.output["k"]
    value = [1, (a.output,), {"x": {b.output}}, {k: "v"}, "text"]
    assert list(iter_xcom_args(value)) == [a.output, b.output, k]


def test_resolve_xcom_args_replaces_and_keeps_container_types(ops):
    """resolve_xcom_args copies the value with XComArgs resolved and container types kept."""
    a, b = ops
    ti = FakeTaskInstance({("a", "return_value"): 1, ("b", "return_value"): 2, ("a", "k"): "key"})
    value = {
        "list": [a.output],
        "tuple": (b.output, 3),
        "set": frozenset({a.output}),
        a.output["k"]: b.output,
    }
    resolved = resolve_xcom_args(value, {"ti": ti})
    assert resolved == {"list": [1], "tuple": (2, 3), "set": frozenset({1}), "key": 2}
    assert type(resolved["tuple"]) is tuple
    assert type(resolved["set"]) is frozenset
    assert value["list"] == [a.output]


def test_resolve_xcom_args_keeps_subclasses(ops):
    """Namedtuples, OrderedDicts and defaultdicts come back as the same types."""
    a, _ = ops
    ti = FakeTaskInstance({("a", "return_value"): 5})
    ordered = OrderedDict(x=a.output)
    default = defaultdict(list, {"y": a.output})
    resolved = resolve_xcom_args([_Pair(a.output, 1), ordered, default], {"ti": ti})
    assert resolved[0] == _Pair(5, 1)
    assert type(resolved[0]) is _Pair
    assert type(resolved[1]) is OrderedDict
    assert resolved[1] == {"x": 5}
    assert resolved[2]["missing"] == []


def test_xcom_args_compare_by_task_and_key(ops):
    """Two references to the same task and key are equal and hash alike."""
    a, b = ops
    assert XComArg(a) == a.output
    assert a.output != b.output
    assert len({a.output, XComArg(a), a.output["x"]}) == 2
