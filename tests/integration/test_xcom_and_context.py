"""XCom pulls as Airflow 3 has them, and the context keys and variables a task sees."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tests.support import by_task


def _shared(fast_settings):
    fast_settings.home.mkdir(parents=True, exist_ok=True)
    return replace(fast_settings, database_url=f"sqlite:///{fast_settings.home}/shared.db")


def test_xcom_pull_by_key_list_and_airflow_argument_order(write_dag, run_dag):
    """xcom_pull reads keys and lists in Airflow's order; do_xcom_push=False stores nothing."""
    path = write_dag(
        """
with DAG("xcoms") as dag:
    @task
    def one(ti=None):
        ti.xcom_push("extra", {"when": datetime(2026, 1, 1), "tags": {"a", "b"}, "pair": (1, 2)})
        return 1

    @task
    def two():
        return 2

    @task(do_xcom_push=False)
    def silent():
        return "not stored"

    @task
    def read(ti=None):
        extra = ti.xcom_pull("one", None, "extra")
        return {
            "both": ti.xcom_pull(task_ids=["one", "two"]),
            "types": [type(extra["when"]).__name__, sorted(extra["tags"]), extra["pair"]],
            "silent": ti.xcom_pull(task_ids="silent", default="none"),
            "missing": ti.xcom_pull(task_ids="one", key="nope"),
        }

    [one(), two(), silent()] >> read()
"""
    )
    value = by_task(run_dag(path))["read"].return_value
    assert value == {
        "both": [1, 2],
        "types": ["datetime", ["a", "b"], {"__airlock_type__": "tuple", "value": [1, 2]}],
        "silent": "none",
        "missing": None,
    }


def test_include_prior_dates_reads_an_earlier_runs_value(write_dag, run_dag, fast_settings):
    """With include_prior_dates, a pull finds the latest value of the DAG's earlier runs."""
    settings = _shared(fast_settings)
    path = write_dag(
        """
with DAG("prior") as dag:
    @task
    def remember(ti=None, ds=None):
        previous = ti.xcom_pull(task_ids="remember", key="seen", include_prior_dates=True)
        ti.xcom_push("seen", ds)
        return previous

    remember()
"""
    )
    first = run_dag(path, settings=settings, logical_date=datetime(2026, 1, 1, tzinfo=UTC))
    second = run_dag(path, settings=settings, logical_date=datetime(2026, 1, 2, tzinfo=UTC))
    assert by_task(first)["remember"].return_value is None
    assert by_task(second)["remember"].return_value == "2026-01-01"


def test_unstorable_and_oversized_values_fail_with_clear_errors(write_dag, run_dag, fast_settings):
    """A return value with no JSON form, or over the XCom size limit, fails the task clearly."""
    path = write_dag(
        """
with DAG("bad_xcoms") as dag:
    @task
    def handle():
        return open(__file__)

    @task
    def huge():
        return "x" * 5000

    handle(), huge()
"""
    )
    tis = by_task(run_dag(path, settings=replace(fast_settings, xcom_max_bytes=1000)))
    assert tis["handle"].state == "failed"
    assert "XCom value at value is a _io.TextIOWrapper, which cannot be stored" in (
        tis["handle"].reason
    )
    assert tis["huge"].state == "failed"
    assert "XCom 'return_value' is 5002 bytes, over the limit of 1000 bytes: store large data" in (
        tis["huge"].reason
    )


def test_context_has_airflows_keys_and_environment(write_dag, run_dag):
    """The context holds Airflow 3's keys, and AIRFLOW_CTX_* variables are set during execute."""
    path = write_dag(
        """
from airlock import get_current_context
with DAG("ctx") as dag:
    @task(owner="ann")
    def inspect_context():
        context = get_current_context()
        keys = ["dag", "dag_run", "task", "ti", "task_instance", "run_id", "logical_date", "ds",
                "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "data_interval_start",
                "data_interval_end", "params", "var", "conn", "macros", "inlets", "outlets",
                "map_index_template", "task_instance_key_str", "try_number",
                "triggering_asset_events", "prev_start_date_success"]
        return {
            "missing": [k for k in keys if k not in context],
            "ts_nodash_with_tz": context["ts_nodash_with_tz"],
            "key": context["task_instance_key_str"],
            "env": {k: os.environ[k] for k in ("AIRFLOW_CTX_DAG_ID", "AIRFLOW_CTX_TASK_ID",
                    "AIRFLOW_CTX_DAG_OWNER", "AIRFLOW_CTX_TRY_NUMBER", "AIRLOCK_CTX_DAG_RUN_ID")},
            "logical": os.environ["AIRFLOW_CTX_LOGICAL_DATE"],
        }

    inspect_context()
"""
    )
    report = run_dag(path, logical_date=datetime(2026, 4, 5, 6, 7, 8, tzinfo=UTC))
    value = by_task(report)["inspect_context"].return_value
    assert value["missing"] == []
    assert value["ts_nodash_with_tz"] == "20260405T060708+0000"
    assert value["key"] == "ctx__inspect_context__20260405"
    assert value["env"] == {
        "AIRFLOW_CTX_DAG_ID": "ctx",
        "AIRFLOW_CTX_TASK_ID": "inspect_context",
        "AIRFLOW_CTX_DAG_OWNER": "ann",
        "AIRFLOW_CTX_TRY_NUMBER": "1",
        "AIRLOCK_CTX_DAG_RUN_ID": report.run_id,
    }
    assert value["logical"] == "2026-04-05T06:07:08+00:00"


def test_previous_successful_run_dates_are_fetched_when_read(write_dag, run_dag, fast_settings):
    """prev_*_success keys give the latest earlier successful run's dates (None at first)."""
    settings = _shared(fast_settings)
    path = write_dag(
        """
with DAG("previous") as dag:
    @task
    def look(prev_data_interval_start_success=None, prev_end_date_success=None):
        return [str(prev_data_interval_start_success), prev_end_date_success is not None]

    look()
"""
    )
    first = run_dag(path, settings=settings, logical_date=datetime(2026, 1, 1, tzinfo=UTC))
    second = run_dag(path, settings=settings, logical_date=datetime(2026, 1, 2, tzinfo=UTC))
    assert by_task(first)["look"].return_value == ["None", False]
    assert by_task(second)["look"].return_value == ["2026-01-01 00:00:00+00:00", True]
