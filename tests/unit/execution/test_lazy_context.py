from datetime import UTC, datetime

from airlock.execution.context_values import LazyContext, context_env_vars, date_keys


def test_lazy_entries_are_computed_once_and_only_when_read():
    """A lazy key is present to `in` and iteration, and its loader runs once, on first read."""
    calls = []
    context = LazyContext({"a": 1}, {"b": lambda: calls.append("b") or 2})
    assert "b" in context
    assert sorted(context) == ["a", "b"]
    assert len(context) == 2
    assert calls == []
    assert (context["b"], context.get("b"), context["b"]) == (2, 2, 2)
    assert calls == ["b"]


def test_copies_keep_lazy_entries_lazy():
    """A copy has its own pending lazy entries; unpacking computes them."""
    context = LazyContext({"a": 1}, {"b": lambda: 2})
    copy = context.copy()
    assert dict.__contains__(copy, "b") is False
    assert {**copy} == {"a": 1, "b": 2}
    assert context.get("missing", "default") == "default"


def test_date_keys_follow_airflows_formats():
    """ds, ds_nodash, ts, ts_nodash and ts_nodash_with_tz are Airflow's strings."""
    keys = date_keys(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert keys == {
        "ds": "2026-01-02",
        "ds_nodash": "20260102",
        "ts": "2026-01-02T03:04:05+00:00",
        "ts_nodash": "20260102T030405",
        "ts_nodash_with_tz": "20260102T030405+0000",
    }
    assert date_keys(None) == {}


def test_context_env_vars_name_the_task_instance():
    """The AIRFLOW_CTX_* and AIRLOCK_CTX_* variables carry the DAG, task, run and try."""

    class Task:
        owner = "ann"
        email = ("a@example.com", "b@example.com")

    class Ti:
        dag_id, task_id, run_id, try_number = "d", "t", "r", 2

    env = context_env_vars({"task": Task(), "ti": Ti(), "logical_date": None})
    assert env["AIRFLOW_CTX_DAG_ID"] == env["AIRLOCK_CTX_DAG_ID"] == "d"
    assert env["AIRFLOW_CTX_TRY_NUMBER"] == "2"
    assert env["AIRFLOW_CTX_LOGICAL_DATE"] == ""
    assert env["AIRFLOW_CTX_DAG_EMAIL"] == "a@example.com,b@example.com"
