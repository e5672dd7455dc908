"""Params are validated when a run is created, and tasks see them with the conf over them."""

from __future__ import annotations

import pytest
from tests.support import by_task

from airlock.cli.main import main
from airlock.definitions.params import ParamValidationError
from airlock.exceptions import DagFileError

PARAMS_DAG = """
from airlock import Param
with DAG("params", params={
    "n": Param(3, type="integer", minimum=1),
    "env": Param("dev", enum=["dev", "prod"]),
    "plain": "hello",
}) as dag:
    @task(params={"extra": Param(True, type="boolean")})
    def show(params=None, **context):
        return [params["n"], params["env"], params["plain"], params["extra"],
                params.get("from_conf"), "dag_run" in context]

    show()
"""


def test_tasks_see_defaults_with_the_conf_over_them(write_dag, run_dag):
    """Params hold their defaults unless the run's conf gives a value, which then wins."""
    path = write_dag(PARAMS_DAG)
    assert by_task(run_dag(path))["show"].return_value == [3, "dev", "hello", True, None, True]
    report = run_dag(path, conf={"n": 7, "env": "prod", "from_conf": "x"})
    assert by_task(report)["show"].return_value == [7, "prod", "hello", True, "x", True]


def test_an_invalid_conf_creates_no_run_and_names_the_param(write_dag, run_dag):
    """A conf value that breaks a param's schema stops the run before it exists, naming why."""
    path = write_dag(PARAMS_DAG)
    with pytest.raises(ParamValidationError) as caught:
        run_dag(path, conf={"n": 0, "env": "staging"})
    message = str(caught.value)
    assert "param 'n' of DAG 'params': 0: 0 is less than the minimum of 1" in message
    assert "param 'env' of DAG 'params': 'staging': 'staging' is not one of ['dev', 'prod']" in (
        message
    )


def test_a_task_param_is_validated_too(write_dag, run_dag):
    """A param declared on a task is checked against the conf like the DAG's params."""
    path = write_dag(PARAMS_DAG)
    with pytest.raises(ParamValidationError, match="param 'extra' of task 'show'"):
        run_dag(path, conf={"extra": "yes"})


def test_a_required_param_needs_a_value_in_the_conf(write_dag, run_dag):
    """A param without a default must be given in the conf, or the run is not created."""
    path = write_dag(
        """
from airlock import Param
with DAG("required", params={"table": Param(type="string", minLength=1)}) as dag:
    @task
    def show(params=None):
        return params["table"]

    show()
"""
    )
    with pytest.raises(ParamValidationError, match=r"param 'table' .* is required"):
        run_dag(path)
    assert by_task(run_dag(path, conf={"table": "sales"}))["show"].return_value == "sales"


def test_dags_test_exits_2_on_invalid_params(write_dag, capsys):
    """`airlock dags test` reports the bad param and exits 2 when the conf is invalid."""
    path = write_dag(PARAMS_DAG)
    code = main(["dags", "test", str(path), "--conf", '{"n": "many"}', "--quiet"])
    assert code == 2
    assert "param 'n' of DAG 'params': 'many': 'many' is not of type 'integer'" in (
        capsys.readouterr().err
    )


def test_a_scheduled_dag_needs_valid_defaults(write_dag, run_dag):
    """A DAG with a schedule whose param has no valid default fails to parse, naming it."""
    path = write_dag(
        """
from airlock import Param
with DAG("scheduled", schedule="@daily", params={"n": Param("x", type="integer")}) as dag:
    @task
    def noop():
        pass

    noop()
"""
    )
    with pytest.raises(DagFileError, match=r"param 'n'.*its default is not valid"):
        run_dag(path)
