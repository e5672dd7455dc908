import pytest

from airlock.exceptions import DagDefinitionError
from airlock.execution.context_values import LazyContext
from airlock.operators.empty import EmptyOperator
from airlock.operators.python import PythonOperator, inject_context

CONTEXT = {"ds": "2024-01-01", "run_id": "r1", "params": {"p": 1}}


def test_callable_gets_context_keys_it_names():
    """A callable receives the context entries whose names match its parameters."""

    def f(ds, other=None):
        return ds, other

    assert inject_context(f, [], {}, CONTEXT) == {"ds": "2024-01-01"}


def test_callable_with_var_kwargs_gets_every_context_key():
    """A callable taking **kwargs receives every context entry."""

    def f(**kwargs):
        return kwargs

    assert inject_context(f, [], {}, CONTEXT) == CONTEXT


def test_supplied_arguments_are_not_overwritten_by_context():
    """Context entries never replace arguments given positionally or by keyword."""

    def f(ds, run_id, **kwargs):
        return ds

    kwargs = inject_context(f, ["positional ds"], {"run_id": "mine"}, CONTEXT)
    assert kwargs == {"run_id": "mine", "params": {"p": 1}}


def test_builtin_without_signature_gets_no_context():
    """A callable whose signature cannot be read gets only its own keyword arguments."""
    assert inject_context(dict, [], {"a": 1}, CONTEXT) == {"a": 1}


def test_python_operator_calls_with_args_kwargs_and_context():
    """PythonOperator calls its callable with op_args, op_kwargs and the context it asks for."""

    def f(a, b, *, ds):
        return (a, b, ds)

    op = PythonOperator(task_id="t", python_callable=f, op_args=[1], op_kwargs={"b": 2})
    assert op.execute(CONTEXT) == (1, 2, "2024-01-01")


def test_templates_dict_is_passed_when_accepted():
    """templates_dict is passed to a callable that has a parameter of that name."""

    def f(templates_dict):
        return templates_dict

    op = PythonOperator(task_id="t", python_callable=f, templates_dict={"k": "v"})
    assert op.execute(CONTEXT) == {"k": "v"}


def test_op_args_xcom_args_are_resolved_and_wired():
    """XComArgs in op_kwargs make their task upstream and are pulled at run time."""

    class TI:
        def xcom_pull(self, task_ids=None, key="return_value", **_):
            return f"{task_ids}:{key}"

    source = EmptyOperator(task_id="source")
    op = PythonOperator(task_id="t", python_callable=lambda x: x, op_kwargs={"x": source.output})
    assert op.upstream_task_ids == {"source"}
    assert op.execute({"ti": TI()}) == "source:return_value"


def test_python_callable_must_be_callable():
    """A python_callable that is not callable is rejected with the task id in the message."""
    with pytest.raises(DagDefinitionError, match="task 't': python_callable must be callable"):
        PythonOperator(task_id="t", python_callable="not callable")


def test_python_operator_template_fields():
    """PythonOperator templates templates_dict, op_args and op_kwargs, as in Airflow."""
    assert PythonOperator.template_fields == ("templates_dict", "op_args", "op_kwargs")


def test_empty_operator_does_nothing():
    """EmptyOperator.execute returns None and needs no context."""
    assert EmptyOperator(task_id="t").execute({}) is None


def test_lazy_context_entries_are_computed_only_when_the_callable_asks_for_them():
    """A callable that names no ``prev_*_success`` key costs no request for it."""
    loads = []

    def load():
        loads.append(1)
        return "2024-01-01"

    op = PythonOperator(task_id="t", python_callable=lambda ds: ds)
    context = LazyContext(dict(CONTEXT), {"prev_start_date_success": load})
    assert op.execute_callable(context) == "2024-01-01"
    assert loads == []
    op = PythonOperator(
        task_id="u", python_callable=lambda prev_start_date_success: prev_start_date_success
    )
    assert (
        op.execute_callable(LazyContext(dict(CONTEXT), {"prev_start_date_success": load}))
        == "2024-01-01"
    )
    assert loads == [1]
