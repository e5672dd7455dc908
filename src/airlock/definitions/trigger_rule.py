"""Trigger rules: when a task may run, given the states of its upstream tasks.

This module only names the rules; the scheduler evaluates them.
"""

from __future__ import annotations

from enum import StrEnum


class TriggerRule(StrEnum):
    """The condition on upstream task states that lets a task run (Airflow 3's set)."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"

    @classmethod
    def is_valid(cls, value: str) -> bool:
        """Return whether ``value`` names a trigger rule."""
        return value in cls._value2member_map_

    @classmethod
    def all_triggers(cls) -> set[str]:
        """Return the values of every trigger rule."""
        return {rule.value for rule in cls}
