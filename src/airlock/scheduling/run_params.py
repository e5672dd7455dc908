"""Validating a run's params when the run is created: the trusted side's check.

The declarations come from the serialized DAG (``SerializedDag.params`` and each task's own
``params``); the values are the defaults, overridden by the run's ``conf`` as Airflow does with
``dag_run_conf_overrides_params``. A run whose params fail is never created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airlock.definitions.params import ParamValidationError, validate_value

if TYPE_CHECKING:
    from airlock.definitions.serialized import SerializedDag, SerializedParam


def check_run_params(dag: SerializedDag, conf: dict[str, Any]) -> dict[str, Any]:
    """Return the DAG's resolved params for a run with ``conf``, after checking every one.

    Raises:
        ParamValidationError: a param has no value or an invalid one; the message lists each
            bad param by name (and the task that declares it, for task params), with the reason.
    """
    problems = _problems(dag.params, conf, f"DAG {dag.dag_id!r}")
    for task in dag.tasks:
        if task.params:
            problems += _problems(task.params, conf, f"task {task.task_id!r}")
    if problems:
        listing = "; ".join(problems)
        raise ParamValidationError(
            f"the run of DAG {dag.dag_id!r} was not created: {listing}. "
            "Fix the values passed in the conf (--conf) or the params' defaults"
        )
    resolved = {name: spec.default for name, spec in dag.params.items()}
    return {**resolved, **conf}


def _problems(specs: dict[str, SerializedParam], conf: dict[str, Any], owner: str) -> list[str]:
    found: list[str] = []
    for name, spec in specs.items():
        if name not in conf and not spec.has_default:
            found.append(f"param {name!r} of {owner} is required and has no default")
            continue
        value = conf.get(name, spec.default)
        try:
            validate_value(value, spec.schema)
        except ParamValidationError as exc:
            found.append(f"param {name!r} of {owner}: {exc}")
    return found
