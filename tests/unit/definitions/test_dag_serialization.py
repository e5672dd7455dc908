from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from airlock.definitions.dag import DAG
from airlock.definitions.serialization import serialize_dag
from airlock.definitions.serialized import SerializedDag, SerializedParam
from airlock.exceptions import DagDefinitionError
from airlock.operators.empty import EmptyOperator
from airlock.operators.python import PythonOperator


def _build():
    with DAG(
        "serial",
        description="demo",
        tags=["b", "a"],
        params={"n": 1, "when": datetime(2024, 1, 1, tzinfo=UTC)},
        max_active_runs=3,
    ) as d:
        last = EmptyOperator(task_id="last", trigger_rule="all_done")
        first = PythonOperator(
            task_id="first",
            python_callable=print,
            retries=2,
            retry_delay=timedelta(minutes=1),
            execution_timeout=timedelta(seconds=90),
            pool="p",
        )
        first >> last
    return d


def test_serialized_dag_has_tasks_in_topological_order():
    """serialize_dag lists tasks upstream-first with their scheduling settings in seconds."""
    serialized = serialize_dag(_build())
    first, last = serialized.tasks
    assert [first.task_id, last.task_id] == ["first", "last"]
    assert (first.operator, first.retries, first.retry_delay) == ("PythonOperator", 2, 60.0)
    assert (first.execution_timeout, first.pool) == (90.0, "p")
    assert (last.upstream_task_ids, last.trigger_rule) == (("first",), "all_done")


def test_serialized_dag_settings_and_params_are_plain_json():
    """DAG-level settings are copied and params become declarations with plain JSON defaults."""
    serialized = serialize_dag(_build())
    assert (serialized.dag_id, serialized.description, serialized.tags) == (
        "serial",
        "demo",
        ("a", "b"),
    )
    assert serialized.params == {
        "n": SerializedParam(default=1),
        "when": SerializedParam(default="2024-01-01T00:00:00Z"),
    }
    assert serialized.max_active_runs == 3
    assert serialized.fileloc == __file__


def test_serialized_dag_round_trips_through_json():
    """A serialized DAG encodes to JSON and decodes back unchanged."""
    serialized = serialize_dag(_build())
    decoded = msgspec.json.decode(msgspec.json.encode(serialized), type=SerializedDag)
    assert decoded == serialized


def test_param_without_json_form_is_an_error_naming_it():
    """A param whose value cannot be JSON is rejected with the param's and DAG's names."""
    d = DAG("bad_params", params={"handle": object()})
    with pytest.raises(DagDefinitionError, match="param 'handle' of DAG 'bad_params'"):
        serialize_dag(d)
