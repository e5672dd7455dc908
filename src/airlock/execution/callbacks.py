"""Running a task's callbacks in the runner, and getting it ready to execute.

``on_execute_callback`` runs just before ``execute``. Once the runner has reported how the try
ended, the matching state callback runs: ``on_success_callback``, ``on_failure_callback``,
``on_retry_callback`` or ``on_skipped_callback``, with the context (plus ``exception`` when the
try failed). A callback that raises is logged and ignored: the try's state is already final.

Before ``execute`` the runner also renders the template fields, sends them to the supervisor
(``SetRenderedFields``) and exports the ``AIRFLOW_CTX_*``/``AIRLOCK_CTX_*`` variables.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from airlock.execution.context_values import context_env_vars
from airlock.execution.protocol import (
    OKResponse,
    RetryTask,
    SetRenderedFields,
    SucceedTask,
    TaskState,
    TerminalMessage,
)
from airlock.execution.rendered_fields import to_json_safe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context
    from airlock.execution.comms import SupervisorChannel

log = logging.getLogger("airlock.runner")


def state_callback_name(outcome: TerminalMessage) -> str:
    """The task attribute holding the callbacks for how the try ended."""
    match outcome:
        case SucceedTask():
            return "on_success_callback"
        case RetryTask():
            return "on_retry_callback"
        case TaskState(state="skipped"):
            return "on_skipped_callback"
        case TaskState():
            return "on_failure_callback"


def run_callbacks(
    callbacks: Iterable[Callable[..., Any]], context: Context, *, kind: str, owner: str
) -> None:
    """Call each callback with ``context``; log and swallow what any of them raises.

    Args:
        callbacks: the callables to call.
        context: the context each receives.
        kind: the callback argument's name, for the log (``on_success_callback``...).
        owner: what the callbacks belong to, for the log (``task 'load'``).
    """
    for callback in callbacks:
        name = getattr(callback, "__qualname__", repr(callback))
        try:
            callback(context)
        except Exception:
            log.exception("%s %s of %s failed; the error is ignored", kind, name, owner)


def run_state_callbacks(
    task: BaseOperator,
    context: Context,
    outcome: TerminalMessage,
    error: BaseException | None,
) -> None:
    """Run the task's callbacks for ``outcome`` (``exception`` in the context when it failed)."""
    kind = state_callback_name(outcome)
    callbacks = getattr(task, kind, None) or []
    if not callbacks:
        return
    if error is not None:
        context["exception"] = error
    run_callbacks(callbacks, context, kind=kind, owner=f"task {task.task_id!r}")


def prepare_to_execute(
    task: BaseOperator, context: Context, channel: SupervisorChannel, max_field_length: int
) -> None:
    """Render the template fields, store them, export the context variables, run on_execute.

    Fields that all rendered empty (a ``@task`` called without arguments) are not stored.

    Raises:
        TemplateRenderError: a template field could not be rendered.
    """
    if task.template_fields:
        task.render_template_fields(context)
        fields = {name: to_json_safe(getattr(task, name, None)) for name in task.template_fields}
        if any(value not in (None, "", [], {}) for value in fields.values()):
            message = SetRenderedFields(fields=fields, max_length=max_field_length)
            channel.call(message, OKResponse)
    os.environ.update(context_env_vars(dict(_plain_items(context))))
    run_callbacks(
        task.on_execute_callback,
        context,
        kind="on_execute_callback",
        owner=f"task {task.task_id!r}",
    )


def _plain_items(context: Context) -> Iterable[tuple[str, Any]]:
    """The context entries needed for the environment, without computing lazy ones."""
    for key in ("task", "ti", "logical_date"):
        if key in context:
            yield key, context[key]
