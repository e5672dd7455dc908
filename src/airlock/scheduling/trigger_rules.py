"""Trigger rules: from the states of a task's direct upstream tasks, what happens to it now.

``decide`` answers one of four things: wait, run, skip, or mark upstream_failed. A task whose
rule can no longer be met is skipped or marked upstream_failed at once, so that the outcome
flows down the DAG without waiting for tasks that will never run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from airlock.states import TaskInstanceState as TIState


class Decision(Enum):
    """What to do with a task instance that has not run yet."""

    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


@dataclass(frozen=True)
class UpstreamStates:
    """Counts of a task's direct upstream task instances by state."""

    total: int = 0
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0
    setup_total: int = 0
    """How many of the upstream task instances belong to setup tasks."""
    setup_success: int = 0
    setup_skipped: int = 0

    @classmethod
    def count(
        cls, states: list[str | None], setup_states: list[str | None] | None = None
    ) -> UpstreamStates:
        """Count the given upstream states; ``setup_states`` are those of setup tasks among them."""
        setups = setup_states or []
        return cls(
            total=len(states),
            success=states.count(TIState.SUCCESS),
            skipped=states.count(TIState.SKIPPED),
            failed=states.count(TIState.FAILED),
            upstream_failed=states.count(TIState.UPSTREAM_FAILED),
            removed=states.count(TIState.REMOVED),
            setup_total=len(setups),
            setup_success=setups.count(TIState.SUCCESS),
            setup_skipped=setups.count(TIState.SKIPPED),
        )

    @property
    def done(self) -> int:
        """Upstream task instances that reached a final state."""
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed

    @property
    def all_done(self) -> bool:
        """Whether every upstream task instance reached a final state."""
        return self.done >= self.total

    @property
    def any_failed(self) -> int:
        """Upstream task instances that failed or could not run because of a failure."""
        return self.failed + self.upstream_failed


Rule = Callable[[UpstreamStates], Decision]


def _run_when(condition: bool, up: UpstreamStates) -> Decision:
    if condition:
        return Decision.RUN
    return Decision.WAIT if not up.all_done else Decision.SKIP


def _all_success(up: UpstreamStates) -> Decision:
    if up.any_failed:
        return Decision.UPSTREAM_FAILED
    if up.skipped:
        return Decision.SKIP
    return Decision.RUN if up.success + up.removed >= up.total else Decision.WAIT


def _all_failed(up: UpstreamStates) -> Decision:
    if up.success or up.skipped:
        return Decision.SKIP
    return Decision.RUN if up.all_done else Decision.WAIT


def _all_done(up: UpstreamStates) -> Decision:
    return Decision.RUN if up.all_done else Decision.WAIT


def _all_skipped(up: UpstreamStates) -> Decision:
    if up.success or up.any_failed:
        return Decision.SKIP
    return Decision.RUN if up.all_done else Decision.WAIT


def _one_success(up: UpstreamStates) -> Decision:
    if up.success:
        return Decision.RUN
    if not up.all_done:
        return Decision.WAIT
    return Decision.SKIP if up.done == up.skipped else Decision.UPSTREAM_FAILED


def _one_failed(up: UpstreamStates) -> Decision:
    return _run_when(up.any_failed > 0, up)


def _one_done(up: UpstreamStates) -> Decision:
    return _run_when(up.success + up.failed > 0, up)


def _none_failed(up: UpstreamStates) -> Decision:
    if up.any_failed:
        return Decision.UPSTREAM_FAILED
    return Decision.RUN if up.all_done else Decision.WAIT


def _none_failed_min_one_success(up: UpstreamStates) -> Decision:
    if up.any_failed:
        return Decision.UPSTREAM_FAILED
    if up.total and up.skipped == up.total:
        return Decision.SKIP
    if not up.all_done:
        return Decision.WAIT
    return Decision.RUN if up.success or not up.total else Decision.SKIP


def _none_skipped(up: UpstreamStates) -> Decision:
    if up.skipped:
        return Decision.SKIP
    return Decision.RUN if up.all_done else Decision.WAIT


def _all_done_min_one_success(up: UpstreamStates) -> Decision:
    if up.skipped:
        return Decision.SKIP
    if not up.all_done:
        return Decision.WAIT
    return Decision.RUN if up.success or not up.total else Decision.UPSTREAM_FAILED


def _all_done_setup_success(up: UpstreamStates) -> Decision:
    """A teardown's rule: once all is done, run if a setup succeeded (skip if all skipped)."""
    if not up.all_done:
        return Decision.WAIT
    if up.setup_total and up.setup_skipped >= up.setup_total:
        return Decision.SKIP
    if up.setup_total and not up.setup_success:
        return Decision.UPSTREAM_FAILED
    return Decision.RUN


def setup_constraint(states: list[str | None]) -> Decision | None:
    """Judge a task by the states of its relevant indirect setups (see ``task_graph``).

    A failed setup makes the task upstream_failed, a skipped one skips it, an unfinished one
    makes it wait; None when they all succeeded (the trigger rule alone decides).
    """
    if any(state in (TIState.FAILED, TIState.UPSTREAM_FAILED) for state in states):
        return Decision.UPSTREAM_FAILED
    if TIState.SKIPPED in states:
        return Decision.SKIP
    if any(state not in (TIState.SUCCESS, TIState.REMOVED) for state in states):
        return Decision.WAIT
    return None


def _always(_up: UpstreamStates) -> Decision:
    return Decision.RUN


RULES: dict[str, Rule] = {
    "all_success": _all_success,
    "all_failed": _all_failed,
    "all_done": _all_done,
    "all_done_min_one_success": _all_done_min_one_success,
    "all_done_setup_success": _all_done_setup_success,
    "all_skipped": _all_skipped,
    "one_success": _one_success,
    "one_failed": _one_failed,
    "one_done": _one_done,
    "none_failed": _none_failed,
    "none_failed_min_one_success": _none_failed_min_one_success,
    "none_skipped": _none_skipped,
    "always": _always,
}


def decide(rule: str, upstream: UpstreamStates) -> Decision:
    """Apply trigger rule ``rule`` to the upstream states.

    Raises:
        ValueError: ``rule`` is not a known trigger rule.
    """
    try:
        evaluate = RULES[rule]
    except KeyError:
        raise ValueError(f"unknown trigger rule {rule!r}; known: {sorted(RULES)}") from None
    if upstream.total == 0:  # a task with no upstream is always ready, whatever its rule
        return Decision.RUN
    return evaluate(upstream)
