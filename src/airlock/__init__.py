"""airlock: a Task SDK and task runtime for data pipelines.

The names below are what a DAG file imports. They are loaded on first use, so that
``import airlock`` stays cheap for the task runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.connection import Connection
    from airlock.definitions.context import Context, get_current_context
    from airlock.definitions.dag import DAG, dag
    from airlock.definitions.decorators import task
    from airlock.definitions.dependencies import chain, cross_downstream
    from airlock.definitions.edges import Label
    from airlock.definitions.params import Param, ParamsDict
    from airlock.definitions.secret_masking import mask_secret
    from airlock.definitions.setup_teardown import setup, teardown
    from airlock.definitions.taskgroup import TaskGroup, task_group
    from airlock.definitions.trigger_rule import TriggerRule
    from airlock.definitions.variable import Variable
    from airlock.definitions.xcom_arg import XComArg
    from airlock.exceptions import AirlockFailException, AirlockSkipException, AirlockTaskTimeout
    from airlock.operators.bash import BashOperator
    from airlock.operators.branch import BaseBranchOperator, BranchPythonOperator
    from airlock.operators.datetime import BranchDateTimeOperator
    from airlock.operators.empty import EmptyOperator
    from airlock.operators.latest_only import LatestOnlyOperator
    from airlock.operators.python import PythonOperator
    from airlock.operators.short_circuit import ShortCircuitOperator
    from airlock.operators.virtualenv import PythonVirtualenvOperator
    from airlock.operators.weekday import BranchDayOfWeekOperator, WeekDay

__all__ = [
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

_LAZY_IMPORTS: Final = {
    "AirlockFailException": "airlock.exceptions",
    "AirlockSkipException": "airlock.exceptions",
    "AirlockTaskTimeout": "airlock.exceptions",
    "BaseBranchOperator": "airlock.operators.branch",
    "BaseOperator": "airlock.definitions.baseoperator",
    "BashOperator": "airlock.operators.bash",
    "BranchDateTimeOperator": "airlock.operators.datetime",
    "BranchDayOfWeekOperator": "airlock.operators.weekday",
    "BranchPythonOperator": "airlock.operators.branch",
    "Connection": "airlock.definitions.connection",
    "Context": "airlock.definitions.context",
    "DAG": "airlock.definitions.dag",
    "EmptyOperator": "airlock.operators.empty",
    "Label": "airlock.definitions.edges",
    "LatestOnlyOperator": "airlock.operators.latest_only",
    "Param": "airlock.definitions.params",
    "ParamsDict": "airlock.definitions.params",
    "PythonOperator": "airlock.operators.python",
    "PythonVirtualenvOperator": "airlock.operators.virtualenv",
    "ShortCircuitOperator": "airlock.operators.short_circuit",
    "TaskGroup": "airlock.definitions.taskgroup",
    "TriggerRule": "airlock.definitions.trigger_rule",
    "Variable": "airlock.definitions.variable",
    "WeekDay": "airlock.operators.weekday",
    "XComArg": "airlock.definitions.xcom_arg",
    "chain": "airlock.definitions.dependencies",
    "cross_downstream": "airlock.definitions.dependencies",
    "dag": "airlock.definitions.dag",
    "get_current_context": "airlock.definitions.context",
    "mask_secret": "airlock.definitions.secret_masking",
    "setup": "airlock.definitions.setup_teardown",
    "task": "airlock.definitions.decorators",
    "task_group": "airlock.definitions.taskgroup",
    "teardown": "airlock.definitions.setup_teardown",
}
"""Where each public name lives: imported on first access by ``__getattr__``."""


def __getattr__(name: str) -> Any:
    """Import a public name on first access and cache it in the module."""
    module_name = _LAZY_IMPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'airlock' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the module's attributes, including the public names not loaded yet."""
    return sorted({*globals(), *__all__})
