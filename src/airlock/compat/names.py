"""Which Airflow import names ``--compat airflow`` provides, and the airlock object behind each.

Each module of the table maps Airflow names to targets written ``"module:attribute"``; a target
in ``airlock`` itself (``"airlock:BashOperator"``) goes through airlock's public names, so an
operator that airlock does not have (yet) is reported as not provided, by name, when a DAG file
imports it. Modules not in the table are not provided at all.

This table is the reference for ``docs/porting-from-airflow.md``.
"""

from __future__ import annotations

from typing import Final

_SDK: Final = {
    "DAG": "airlock:DAG",
    "dag": "airlock:dag",
    "task": "airlock:task",
    "task_group": "airlock:task_group",
    "TaskGroup": "airlock:TaskGroup",
    "setup": "airlock:setup",
    "teardown": "airlock:teardown",
    "BaseOperator": "airlock:BaseOperator",
    "XComArg": "airlock:XComArg",
    "Variable": "airlock:Variable",
    "Connection": "airlock:Connection",
    "Param": "airlock:Param",
    "ParamsDict": "airlock:ParamsDict",
    "Context": "airlock:Context",
    "get_current_context": "airlock:get_current_context",
    "chain": "airlock:chain",
    "cross_downstream": "airlock:cross_downstream",
    "TriggerRule": "airlock:TriggerRule",
    "Label": "airlock:Label",
    "EdgeModifier": "airlock.definitions.edges:EdgeModifier",
    "BaseBranchOperator": "airlock:BaseBranchOperator",
}

_EXCEPTIONS: Final = {
    "AirflowException": "airlock.compat.exceptions:AirflowException",
    "AirflowSkipException": "airlock.compat.exceptions:AirflowSkipException",
    "AirflowFailException": "airlock.compat.exceptions:AirflowFailException",
    "AirflowTaskTimeout": "airlock.compat.exceptions:AirflowTaskTimeout",
    "AirflowTaskTerminated": "airlock.compat.exceptions:AirflowTaskTerminated",
    "AirflowNotFoundException": "airlock.compat.exceptions:AirflowNotFoundException",
    "DuplicateTaskIdFound": "airlock.compat.exceptions:DuplicateTaskIdFound",
}

_STANDARD: Final = "airflow.providers.standard"

MODULES: Final[dict[str, dict[str, str]]] = {
    "airflow": {"DAG": "airlock:DAG", "XComArg": "airlock:XComArg"},
    "airflow.sdk": _SDK,
    "airflow.sdk.definitions.dag": {"DAG": "airlock:DAG", "dag": "airlock:dag"},
    "airflow.sdk.definitions.taskgroup": {"TaskGroup": "airlock:TaskGroup"},
    "airflow.sdk.definitions.decorators": {"task": "airlock:task"},
    "airflow.sdk.definitions.param": {"Param": "airlock:Param", "ParamsDict": "airlock:ParamsDict"},
    "airflow.sdk.definitions.context": {
        "Context": "airlock:Context",
        "get_current_context": "airlock:get_current_context",
    },
    "airflow.sdk.bases.operator": {
        "BaseOperator": "airlock:BaseOperator",
        "chain": "airlock:chain",
        "cross_downstream": "airlock:cross_downstream",
    },
    "airflow.sdk.exceptions": _EXCEPTIONS,
    "airflow.exceptions": _EXCEPTIONS,
    "airflow.decorators": {
        "dag": "airlock:dag",
        "task": "airlock:task",
        "task_group": "airlock:task_group",
        "setup": "airlock:setup",
        "teardown": "airlock:teardown",
    },
    "airflow.models": {
        "DAG": "airlock:DAG",
        "BaseOperator": "airlock:BaseOperator",
        "Variable": "airlock:Variable",
        "Connection": "airlock:Connection",
        "Param": "airlock:Param",
        "XComArg": "airlock:XComArg",
    },
    "airflow.models.dag": {"DAG": "airlock:DAG"},
    "airflow.models.baseoperator": {
        "BaseOperator": "airlock:BaseOperator",
        "chain": "airlock:chain",
        "cross_downstream": "airlock:cross_downstream",
    },
    "airflow.models.param": {"Param": "airlock:Param", "ParamsDict": "airlock:ParamsDict"},
    "airflow.models.variable": {"Variable": "airlock:Variable"},
    "airflow.models.connection": {"Connection": "airlock:Connection"},
    "airflow.models.xcom_arg": {"XComArg": "airlock:XComArg"},
    "airflow.utils.trigger_rule": {"TriggerRule": "airlock:TriggerRule"},
    "airflow.utils.task_group": {"TaskGroup": "airlock:TaskGroup"},
    "airflow.utils.edgemodifier": {"Label": "airlock:Label"},
    "airflow.utils.helpers": {
        "chain": "airlock:chain",
        "cross_downstream": "airlock:cross_downstream",
    },
    "airflow.providers.common.compat.sdk": {
        "TriggerRule": "airlock:TriggerRule",
        "Context": "airlock:Context",
        "BaseOperator": "airlock:BaseOperator",
        "get_current_context": "airlock:get_current_context",
        "AirflowSkipException": "airlock.compat.exceptions:AirflowSkipException",
        "AirflowException": "airlock.compat.exceptions:AirflowException",
        "AirflowFailException": "airlock.compat.exceptions:AirflowFailException",
    },
    f"{_STANDARD}.operators.empty": {"EmptyOperator": "airlock:EmptyOperator"},
    f"{_STANDARD}.operators.bash": {"BashOperator": "airlock:BashOperator"},
    f"{_STANDARD}.operators.python": {
        "PythonOperator": "airlock:PythonOperator",
        "BranchPythonOperator": "airlock:BranchPythonOperator",
        "ShortCircuitOperator": "airlock:ShortCircuitOperator",
        "PythonVirtualenvOperator": "airlock:PythonVirtualenvOperator",
        "get_current_context": "airlock:get_current_context",
    },
    f"{_STANDARD}.operators.branch": {"BaseBranchOperator": "airlock:BaseBranchOperator"},
    f"{_STANDARD}.operators.latest_only": {"LatestOnlyOperator": "airlock:LatestOnlyOperator"},
    f"{_STANDARD}.operators.datetime": {"BranchDateTimeOperator": "airlock:BranchDateTimeOperator"},
    f"{_STANDARD}.operators.weekday": {
        "BranchDayOfWeekOperator": "airlock:BranchDayOfWeekOperator"
    },
    f"{_STANDARD}.utils.weekday": {"WeekDay": "airlock:WeekDay"},
}
"""Airflow module name -> {Airflow name: airlock target}."""
