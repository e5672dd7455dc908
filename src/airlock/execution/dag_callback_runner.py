"""The process that runs a DAG's ``on_success_callback``/``on_failure_callback``: user code.

A DAG's callbacks are user code, so they never run in the trusted scheduler. When a run
finishes, the trusted side starts ``python -m airlock.execution.dag_callback_runner`` (with the
runner's filtered environment: no token, no database URL) and writes a
:class:`DagCallbackRequest` as JSON to its stdin. This process loads the DAG file and calls the
callbacks with a context holding ``dag``, ``dag_run``, ``run_id``, ``reason``, the run's dates,
``params``, ``var``, ``conn`` and ``macros``. It has no supervisor channel: Variables and
Connections come from the environment (``AIRLOCK_VAR_*``, ``AIRLOCK_CONN_*``) only.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import msgspec

from airlock.api.models import DagRunInfo  # noqa: TC001 -- msgspec resolves it at runtime

if TYPE_CHECKING:
    from airlock.definitions.context import Context
    from airlock.definitions.dag import DAG

log = logging.getLogger("airlock.dag_callbacks")


class DagCallbackRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Which DAG run finished, how, and where its DAG file is."""

    dag_file: str
    dag_id: str
    run: DagRunInfo
    is_failure: bool
    reason: str


def dag_callback_context(dag: DAG, request: DagCallbackRequest) -> Context:
    """Build the context a DAG callback receives."""
    from airlock.definitions import macros  # noqa: PLC0415 -- after the DAG file is loaded
    from airlock.definitions.context_accessors import (  # noqa: PLC0415
        ConnectionAccessor,
        variables_accessor,
    )
    from airlock.definitions.params import as_params_dict  # noqa: PLC0415
    from airlock.execution.context_values import date_keys  # noqa: PLC0415

    run = request.run
    params = as_params_dict(dag.params)
    for name, value in run.conf.items():
        params[name] = value
    values: dict[str, Any] = {
        "dag": dag,
        "dag_run": run,
        "run_id": run.run_id,
        "reason": request.reason,
        "logical_date": run.logical_date,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "conf": run.conf,
        "params": params,
        "macros": macros,
        "var": variables_accessor(),
        "conn": ConnectionAccessor(),
        **date_keys(run.logical_date),
    }
    return values  # type: ignore[return-value]


def run_dag_callbacks(request: DagCallbackRequest) -> int:
    """Load the DAG and call its success or failure callbacks; return the exit code."""
    from airlock.definitions.loader import load_dag  # noqa: PLC0415 -- user code loads here
    from airlock.execution.callbacks import run_callbacks  # noqa: PLC0415

    dag = load_dag(request.dag_file, request.dag_id)
    kind = "on_failure_callback" if request.is_failure else "on_success_callback"
    found = getattr(dag, kind) or []
    callables = found if isinstance(found, list | tuple) else [found]
    log.info(
        "running %d %s of DAG %s (run %s)", len(callables), kind, dag.dag_id, request.run.run_id
    )
    context = dag_callback_context(dag, request)
    run_callbacks(callables, context, kind=kind, owner=f"DAG {dag.dag_id!r}")
    return 0


def main() -> int:
    """Read the request from stdin and run the callbacks."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    request = msgspec.json.decode(sys.stdin.buffer.read(), type=DagCallbackRequest)
    return run_dag_callbacks(request)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # a callback's leftover threads must not keep the process alive
