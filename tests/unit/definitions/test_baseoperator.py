from datetime import UTC, datetime, timedelta

import pytest

from airlock.definitions.baseoperator import BaseOperator
from airlock.definitions.dag import DAG
from airlock.definitions.trigger_rule import TriggerRule
from airlock.definitions.xcom_arg import XComArg
from airlock.exceptions import DagDefinitionError
from airlock.operators.empty import EmptyOperator


class KwargsOperator(BaseOperator):
    """A custom operator that passes unknown keywords up to BaseOperator."""

    def __init__(self, *, my_arg: str = "own default", **kwargs):
        super().__init__(**kwargs)
        self.my_arg = my_arg


class NamedOnlyOperator(BaseOperator):
    """A custom operator that does not pass **kwargs on."""

    def __init__(self, *, task_id: str, size: int):
        super().__init__(task_id=task_id)
        self.size = size


class PositionalOperator(BaseOperator):
    """A custom operator whose own argument may be passed positionally."""

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = size


def test_airflow_defaults():
    """An operator built with only a task_id has Airflow's default settings."""
    op = EmptyOperator(task_id="t")
    assert (op.owner, op.retries, op.retry_delay) == ("airflow", 0, timedelta(seconds=300))
    assert (op.trigger_rule, op.queue, op.pool, op.pool_slots) == (
        "all_success",
        "default",
        "default_pool",
        1,
    )
    assert (op.priority_weight, op.weight_rule, op.do_xcom_push) == (1, "downstream", True)
    assert op.execution_timeout is None
    assert op.on_failure_callback == []


def test_dag_default_args_fill_missing_keywords():
    """DAG default_args fill the operator keywords the caller did not pass."""
    with DAG("d", default_args={"retries": 3, "owner": "data", "queue": "fast"}):
        op = EmptyOperator(task_id="t", queue="slow")
    assert (op.retries, op.owner, op.queue) == (3, "data", "slow")


def test_operator_default_args_override_dag_default_args():
    """An operator's own default_args win over the DAG's."""
    with DAG("d", default_args={"retries": 3, "owner": "dag"}):
        op = EmptyOperator(task_id="t", default_args={"retries": 5})
    assert (op.retries, op.owner) == (5, "dag")


def test_default_args_reach_base_keywords_through_subclass_kwargs():
    """A custom operator passing **kwargs up still gets BaseOperator settings from default_args."""
    with DAG("d", default_args={"retries": 2, "execution_timeout": 60}):
        op = KwargsOperator(task_id="t")
    assert op.retries == 2
    assert op.execution_timeout == timedelta(seconds=60)
    assert op.my_arg == "own default"


def test_default_args_fill_a_subclass_named_argument():
    """A default_args key that a custom operator accepts by name fills that argument."""
    with DAG("d", default_args={"my_arg": "from defaults"}):
        filled = KwargsOperator(task_id="filled")
        explicit = KwargsOperator(task_id="explicit", my_arg="mine")
    assert filled.my_arg == "from defaults"
    assert explicit.my_arg == "mine"


def test_default_args_skip_keywords_a_subclass_cannot_pass_on():
    """default_args keys the operator's constructor chain cannot accept are ignored, not errors."""
    with DAG("d", default_args={"retries": 4, "size": 9, "no_such_option": 1}):
        op = NamedOnlyOperator(task_id="t")
    assert op.size == 9
    assert op.retries == 0


def test_positional_argument_is_not_overridden_by_default_args():
    """An argument passed positionally is not replaced by a default_args entry of the same name."""
    with DAG("d", default_args={"size": 1}):
        op = PositionalOperator(5, task_id="t")
    assert op.size == 5


def test_params_merge_dag_then_default_args_then_task():
    """Task params are the DAG's params, overlaid by default_args params, then the task's own."""
    with DAG("d", params={"a": 1, "b": 1, "c": 1}):
        op = EmptyOperator(task_id="t", default_args={"params": {"b": 2, "c": 2}}, params={"c": 3})
    assert op.params == {"a": 1, "b": 2, "c": 3}


def test_unknown_keyword_names_operator_and_keyword():
    """A misspelt operator keyword is a TypeError naming the operator class and the keyword."""
    with pytest.raises(TypeError, match=r"KwargsOperator \(task_id 't'\).*retires"):
        KwargsOperator(task_id="t", retires=3)


def test_durations_accept_seconds():
    """retry_delay, max_retry_delay and execution_timeout accept a number of seconds."""
    op = EmptyOperator(task_id="t", retry_delay=10, max_retry_delay=60.5, execution_timeout=5)
    assert op.retry_delay == timedelta(seconds=10)
    assert op.max_retry_delay == timedelta(seconds=60.5)
    assert op.execution_timeout == timedelta(seconds=5)


@pytest.mark.parametrize("timeout", [0, -1, timedelta(0)])
def test_execution_timeout_must_be_positive(timeout):
    """An execution_timeout of zero or less is rejected with a clear message."""
    with pytest.raises(DagDefinitionError, match="execution_timeout must be longer than zero"):
        EmptyOperator(task_id="t", execution_timeout=timeout)


def test_invalid_trigger_rule_lists_valid_rules():
    """An unknown trigger rule is rejected with the list of valid ones."""
    with pytest.raises(DagDefinitionError, match=r"'all_sucess' is not a trigger rule.*one_failed"):
        EmptyOperator(task_id="t", trigger_rule="all_sucess")


def test_trigger_rule_accepts_enum_and_string():
    """trigger_rule may be given as a TriggerRule or its string value."""
    assert EmptyOperator(task_id="a", trigger_rule=TriggerRule.ALWAYS).trigger_rule == "always"
    assert EmptyOperator(task_id="b", trigger_rule="one_done").trigger_rule is TriggerRule.ONE_DONE


def test_invalid_task_id_is_rejected():
    """A task_id with a space is rejected like an invalid dag_id."""
    with pytest.raises(DagDefinitionError, match="task_id 'bad id' is not valid"):
        EmptyOperator(task_id="bad id")


def test_callbacks_are_stored_as_lists():
    """A single callback and a list of callbacks are both stored as lists."""

    def notify(context):
        return None

    op = EmptyOperator(task_id="t", on_failure_callback=notify, on_retry_callback=[notify, notify])
    assert op.on_failure_callback == [notify]
    assert op.on_retry_callback == [notify, notify]


def test_non_callable_callback_is_rejected():
    """A callback that is not callable is an error at definition time."""
    with pytest.raises(DagDefinitionError, match="on_success_callback"):
        EmptyOperator(task_id="t", on_success_callback="not a function")


def test_base_execute_tells_which_class_must_override_it():
    """Running an operator that did not override execute raises an error naming its class."""
    with pytest.raises(DagDefinitionError, match=r"KwargsOperator .* must override execute"):
        KwargsOperator(task_id="t").execute({})


def test_output_is_an_xcom_arg_of_the_task():
    """`op.output` references the operator's return_value XCom."""
    op = EmptyOperator(task_id="t")
    assert op.output == XComArg(op)
    assert op.output.key == "return_value"
    assert op.task_type == "EmptyOperator"


def test_dag_argument_wins_over_with_block():
    """An explicit dag= places the operator there even inside another DAG's with block."""
    target = DAG("target")
    with DAG("context") as context_dag:
        op = EmptyOperator(task_id="t", dag=target)
    assert op.dag is target
    assert context_dag.task_ids == []


def test_task_takes_dag_start_date_when_it_has_none():
    """A task without its own start_date takes the DAG's, as in Airflow."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with DAG("dated", start_date=start):
        op = EmptyOperator(task_id="t")
    assert op.start_date == start


def test_pool_slots_must_be_positive():
    """pool_slots below one is rejected."""
    with pytest.raises(DagDefinitionError, match="pool_slots"):
        EmptyOperator(task_id="t", pool_slots=0)


class OuterOperator(KwargsOperator):
    """A second level of custom operator, passing **kwargs up again."""

    def __init__(self, *, extra: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.extra = extra


def test_default_args_reach_every_level_of_a_subclass_chain():
    """default_args fill named arguments at every level of a chain of custom operators."""
    with DAG("d", default_args={"extra": 5, "my_arg": "mid", "retries": 1}):
        op = OuterOperator(task_id="t")
    assert (op.extra, op.my_arg, op.retries) == (5, "mid", 1)


def test_unknown_keyword_through_a_subclass_chain_names_the_outer_class():
    """A bad keyword passed through several custom operators names the class the user built."""
    with pytest.raises(TypeError, match=r"OuterOperator \(task_id 't'\).*colour"):
        OuterOperator(task_id="t", colour="red")
