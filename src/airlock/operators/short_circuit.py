"""ShortCircuitOperator (``@task.short_circuit``): go on only when a condition holds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airlock.definitions.decorators import DecoratedPythonOperator, TaskDecorator
from airlock.operators.branch import SkipMixin, downstream_closure
from airlock.operators.python import PythonOperator

if TYPE_CHECKING:
    from airlock.definitions.context import Context

log = logging.getLogger(__name__)


class ShortCircuitOperator(PythonOperator, SkipMixin):
    """Run a callable; when its result is falsy, skip what comes after this task.

    Args:
        python_callable: returns the condition.
        ignore_downstream_trigger_rules: skip every task downstream, directly or not (the
            default); with False, skip only the direct downstream tasks and let the trigger
            rules of the tasks after them decide. Teardown tasks are never skipped.
        **kwargs: any argument of :class:`~airlock.operators.python.PythonOperator`.
    """

    inherits_from_skipmixin = True

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Context) -> Any:
        """Call the callable; skip downstream tasks when the result is falsy; return the result."""
        condition = super().execute(context)
        log.info("Condition result is %s", condition)
        if condition:
            log.info("Proceeding with downstream tasks...")
            return condition
        if self.ignore_downstream_trigger_rules:
            candidates = downstream_closure(self)
        else:
            candidates = self.downstream_list
        to_skip = [t for t in candidates if not getattr(t, "is_teardown", False)]
        if self.skip(context["ti"], to_skip):
            return None  # as in Airflow 3: a short circuit that skipped pushes no XCom
        return condition


class DecoratedShortCircuitOperator(DecoratedPythonOperator, ShortCircuitOperator):
    """The operator behind a ``@task.short_circuit`` function."""

    custom_operator_name = "@task.short_circuit"


class ShortCircuitTaskDecorator(TaskDecorator):
    """A function decorated with ``@task.short_circuit``."""

    operator_class = DecoratedShortCircuitOperator
