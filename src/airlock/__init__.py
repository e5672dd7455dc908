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
    from airlock.definitions.trigger_rule import TriggerRule
    from airlock.definitions.variable import Variable
    from airlock.definitions.xcom_arg import XComArg
    from airlock.exceptions import AirlockFailException, AirlockSkipException, AirlockTaskTimeout
    from airlock.operators.empty import EmptyOperator
    from airlock.operators.python import PythonOperator

__all__ = [
    "DAG",
    "AirlockFailException",
    "AirlockSkipException",
    "AirlockTaskTimeout",
    "BaseOperator",
    "Connection",
    "Context",
    "EmptyOperator",
    "PythonOperator",
    "TriggerRule",
    "Variable",
    "XComArg",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "task",
]

_LAZY_IMPORTS: Final = {
    "AirlockFailException": "airlock.exceptions",
    "AirlockSkipException": "airlock.exceptions",
    "AirlockTaskTimeout": "airlock.exceptions",
    "BaseOperator": "airlock.definitions.baseoperator",
    "Connection": "airlock.definitions.connection",
    "Context": "airlock.definitions.context",
    "DAG": "airlock.definitions.dag",
    "EmptyOperator": "airlock.operators.empty",
    "PythonOperator": "airlock.operators.python",
    "TriggerRule": "airlock.definitions.trigger_rule",
    "Variable": "airlock.definitions.variable",
    "XComArg": "airlock.definitions.xcom_arg",
    "chain": "airlock.definitions.dependencies",
    "cross_downstream": "airlock.definitions.dependencies",
    "dag": "airlock.definitions.dag",
    "get_current_context": "airlock.definitions.context",
    "task": "airlock.definitions.decorators",
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
