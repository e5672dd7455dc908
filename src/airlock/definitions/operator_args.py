"""Checks and conversions of operator arguments, with errors that name the task.

``BaseOperator.__init__`` passes each argument that needs more than storing through one of
these functions: durations given in seconds become timedeltas, a trigger rule string becomes a
:class:`~airlock.definitions.trigger_rule.TriggerRule`, a single callback becomes a list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Final, TypeAlias

from airlock.definitions.trigger_rule import TriggerRule
from airlock.exceptions import DagDefinitionError

Callbacks: TypeAlias = "Callable[..., Any] | Sequence[Callable[..., Any]] | None"
"""A task callback argument: one callable, a list of them, or None."""

WEIGHT_RULES: Final = frozenset({"downstream", "upstream", "absolute"})
"""The built-in ways of computing a task's effective priority."""


def as_retries(value: object, task_id: str) -> int:
    """Return ``retries`` as an int (None means 0; a string of digits is accepted)."""
    if value is None:
        return 0
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DagDefinitionError(
            f"task {task_id!r}: retries must be a whole number >= 0, not {value!r}"
        )
    return value


def to_timedelta(value: object, name: str, task_id: str) -> timedelta:
    """Return a duration argument (a timedelta, or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise DagDefinitionError(
        f"task {task_id!r}: {name} must be a timedelta or a number of seconds, "
        f"not {type(value).__name__}"
    )


def as_duration(value: object, name: str, task_id: str) -> timedelta:
    """Return a duration argument as a timedelta >= 0."""
    duration = to_timedelta(value, name, task_id)
    if duration < timedelta(0):
        raise DagDefinitionError(f"task {task_id!r}: {name} must not be negative ({duration})")
    return duration


def as_optional_duration(value: object, name: str, task_id: str) -> timedelta | None:
    """Return an optional duration argument as a timedelta, or None."""
    return None if value is None else as_duration(value, name, task_id)


def as_timeout(value: object, task_id: str) -> timedelta | None:
    """Return ``execution_timeout`` as a timedelta > 0, or None."""
    if value is None:
        return None
    timeout = to_timedelta(value, "execution_timeout", task_id)
    if timeout <= timedelta(0):
        raise DagDefinitionError(
            f"task {task_id!r}: execution_timeout must be longer than zero; "
            "pass None for no timeout"
        )
    return timeout


def as_trigger_rule(value: object, task_id: str) -> TriggerRule:
    """Return ``trigger_rule`` as a TriggerRule."""
    if isinstance(value, str) and TriggerRule.is_valid(value):
        return TriggerRule(value)
    valid = ", ".join(rule.value for rule in TriggerRule)
    raise DagDefinitionError(
        f"task {task_id!r}: {value!r} is not a trigger rule; use one of: {valid}"
    )


def as_weight_rule(value: object, task_id: str) -> object:
    """Return ``weight_rule``, checking it when it names a built-in rule."""
    if isinstance(value, str) and value not in WEIGHT_RULES:
        raise DagDefinitionError(
            f"task {task_id!r}: {value!r} is not a weight rule; use one of: "
            f"{', '.join(sorted(WEIGHT_RULES))}"
        )
    return value


def as_pool_slots(value: int, task_id: str) -> int:
    """Return ``pool_slots``, which must be at least 1."""
    if value < 1:
        raise DagDefinitionError(f"task {task_id!r}: pool_slots must be at least 1, not {value}")
    return value


def as_callbacks(value: Callbacks, name: str) -> list[Callable[..., Any]]:
    """Return a callback argument as a list of callables."""
    if value is None:
        return []
    callbacks = list(value) if isinstance(value, Sequence) else [value]
    for callback in callbacks:
        if not callable(callback):
            raise DagDefinitionError(
                f"{name} must be a callable or a list of callables; got {callback!r}"
            )
    return callbacks


def as_list(value: Any) -> list[Any]:
    """Return ``inlets``/``outlets`` as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
