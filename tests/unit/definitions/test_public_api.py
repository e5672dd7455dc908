import subprocess
import sys

import pytest

import airlock
from airlock.definitions.decorators import task
from airlock.exceptions import AirlockSkipException

EXPECTED_PUBLIC_NAMES = [
    "DAG",
    "AirlockFailException",
    "AirlockSkipException",
    "AirlockTaskTimeout",
    "BaseBranchOperator",
    "BaseOperator",
    "BashOperator",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "BranchPythonOperator",
    "Connection",
    "Context",
    "EmptyOperator",
    "Label",
    "LatestOnlyOperator",
    "Param",
    "ParamsDict",
    "PythonOperator",
    "PythonVirtualenvOperator",
    "ShortCircuitOperator",
    "TaskGroup",
    "TriggerRule",
    "Variable",
    "WeekDay",
    "XComArg",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "mask_secret",
    "setup",
    "task",
    "task_group",
    "teardown",
]


def test_public_names_are_pinned():
    """The names `from airlock import *` exports change only on purpose."""
    assert airlock.__all__ == EXPECTED_PUBLIC_NAMES


def test_every_public_name_resolves():
    """Each public name can be imported from airlock."""
    for name in airlock.__all__:
        assert getattr(airlock, name) is not None


def test_public_names_are_the_definitions():
    """The names of airlock are the very objects of the modules that define them."""
    assert airlock.task is task
    assert airlock.AirlockSkipException is AirlockSkipException


def test_unknown_name_is_an_attribute_error():
    """Asking airlock for a name it does not export raises AttributeError."""
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = airlock.NoSuchThing


def test_import_airlock_is_lazy():
    """`import airlock` alone does not load the authoring modules, so the runner starts fast."""
    code = "import sys, airlock; print(sorted(m for m in sys.modules if m.startswith('airlock')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = out.strip()
    assert "airlock.definitions.decorators" not in loaded
    assert "airlock.definitions.dag" not in loaded
    assert "airlock.operators" not in loaded


def test_dag_file_imports_stay_light():
    """Importing the authoring API pulls in no server-side library."""
    code = (
        "import sys; from airlock import DAG, task, PythonOperator, chain; "
        "heavy = {'fastapi', 'sqlalchemy', 'httpx', 'jwt', 'jinja2'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
