"""The --compat airflow import shim, tested in fresh interpreters (it changes sys.meta_path)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from airlock import compat
from airlock.exceptions import AirlockSkipException, ConfigError


def run_python(code: str, *, env_compat: str | None = "airflow", extra_path: str | None = None):
    """Run ``code`` in a fresh interpreter with the shim switched on through the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
    if env_compat:
        env["AIRLOCK_COMPAT"] = env_compat
    if extra_path:
        env["PYTHONPATH"] = extra_path
    prelude = "from airlock.compat import install_from_env; install_from_env()\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_airflow_names_resolve_to_airlock_objects():
    """airflow.sdk, airflow.decorators and the standard provider give airlock's own objects."""
    result = run_python(
        """
        import airlock
        from airflow.sdk import DAG, task, TaskGroup, chain, Label, setup, teardown
        from airflow.decorators import task_group
        from airflow.providers.standard.operators.empty import EmptyOperator
        from airflow.utils.trigger_rule import TriggerRule
        from airflow.exceptions import AirflowSkipException, AirflowFailException
        assert DAG is airlock.DAG and task is airlock.task and TaskGroup is airlock.TaskGroup
        assert EmptyOperator is airlock.EmptyOperator and TriggerRule is airlock.TriggerRule
        assert AirflowSkipException is airlock.AirlockSkipException
        assert AirflowFailException is airlock.AirlockFailException
        print("ok")
        """
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_a_module_airlock_does_not_provide_fails_naming_it():
    """Importing an Airflow module airlock lacks raises ImportError naming that module."""
    result = run_python(
        """
        try:
            import airflow.providers.amazon.aws.operators.s3
        except ImportError as exc:
            print(exc)
        """
    )
    assert "airlock --compat airflow does not provide airflow.providers.amazon" in result.stdout


def test_a_name_airlock_does_not_provide_fails_naming_it():
    """Importing a missing name from a provided module names the name and the module."""
    result = run_python("from airflow.sdk import Asset")
    assert "does not provide Asset from airflow.sdk" in result.stderr


def test_without_the_switch_airflow_is_not_importable():
    """The shim is opt-in: without it, `import airflow` fails as usual."""
    result = run_python("import airflow", env_compat=None)
    assert "No module named 'airflow'" in result.stderr


def test_a_real_airflow_installation_is_refused(tmp_path, monkeypatch):
    """The switch refuses to start when a real Airflow is importable, and says where it is."""
    (tmp_path / "airflow").mkdir()
    (tmp_path / "airflow" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="a real Airflow is installed"):
        compat.check("airflow")
    result = run_python("print('unreachable')", extra_path=str(tmp_path))
    assert "a real Airflow is installed" in result.stderr


def test_an_unknown_mode_is_refused():
    """Only known compatibility modes are accepted."""
    with pytest.raises(ConfigError, match="unknown compatibility mode 'prefect'"):
        compat.check("prefect")


def test_exception_aliases_are_airlocks_classes():
    """airlock.compat exports Airflow's exception names for airlock's control exceptions."""
    assert compat.AirflowSkipException is AirlockSkipException
    assert issubclass(compat.AirflowException, Exception)
