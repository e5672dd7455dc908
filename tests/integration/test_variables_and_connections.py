"""Variables and Connections reach task code through the supervisor and the API."""

from __future__ import annotations

from dataclasses import replace

from tests.support import by_task, read_log

from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.db.models import Connection


def test_variables_set_get_delete_flow_between_tasks(write_dag, run_dag):
    """A Variable set by one task is read by the next; a deleted one falls back to the default."""
    path = write_dag(
        """
        with DAG("vars") as dag:
            @task
            def write():
                Variable.set("colour", "blue")
                Variable.set("config", {"n": 3}, serialize_json=True)
                Variable.set("temporary", "x")
                Variable.delete("temporary")

            @task
            def read():
                return [
                    Variable.get("colour"),
                    Variable.get("config", deserialize_json=True)["n"],
                    Variable.get("temporary", default="gone"),
                ]

            write() >> read()
        """
    )
    assert by_task(run_dag(path))["read"].return_value == ["blue", 3, "gone"]


def test_missing_variable_without_default_fails_the_task_clearly(write_dag, run_dag):
    """Reading a Variable that does not exist, with no default, fails with its key named."""
    path = write_dag(
        """
        with DAG("novar") as dag:
            @task
            def read():
                return Variable.get("nope")

            read()
        """
    )
    ti = by_task(run_dag(path))["read"]
    assert ti.state == "failed"
    assert ti.reason == "VariableNotFoundError: Variable 'nope' does not exist"


def test_environment_variables_and_connections_come_first(write_dag, run_dag, monkeypatch):
    """AIRLOCK_VAR_* and AIRLOCK_CONN_* (and the AIRFLOW_ forms) are found without the API."""
    monkeypatch.setenv("AIRLOCK_VAR_REGION", "eu-west-1")
    monkeypatch.setenv("AIRFLOW_VAR_LEGACY", "still works")
    monkeypatch.setenv("AIRLOCK_CONN_WAREHOUSE", "postgres://ann:s3cr3t-pw@db.example:5433/dw")
    path = write_dag(
        """
        with DAG("envs") as dag:
            @task
            def read():
                conn = Connection.get("warehouse")
                print("password is", conn.password)
                return [Variable.get("region"), Variable.get("legacy"),
                        conn.host, conn.port, conn.schema, conn.login]

            read()
        """
    )
    report = run_dag(path)
    assert by_task(report)["read"].return_value == [
        "eu-west-1",
        "still works",
        "db.example",
        5433,
        "dw",
        "ann",
    ]


def test_connection_password_from_the_api_is_masked_in_the_log(write_dag, run_dag, fast_settings):
    """A connection password served by the API never appears in the task's log file."""
    url = f"sqlite:///{fast_settings.home}/shared.db"
    fast_settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        session.add(Connection(conn_id="crm", conn_type="http", host="crm", password="topsecret99"))
    engine.dispose()
    path = write_dag(
        """
        with DAG("masked") as dag:
            @task
            def use():
                conn = Connection.get("crm")
                print("connecting with", conn.password)
                logging.getLogger("x").info("password=%s", conn.password)
                return conn.host

            use()
        """
    )
    report = run_dag(path, settings=replace(fast_settings, database_url=url))
    assert by_task(report)["use"].return_value == "crm"
    log = read_log(fast_settings, report, "use")
    assert "topsecret99" not in log
    assert "connecting with ***" in log
