"""Trigger rules decide from upstream states whether a task waits, runs, skips or fails."""

from __future__ import annotations

import pytest

from airlock.scheduling.trigger_rules import RULES, Decision, UpstreamStates, decide

S, F, SK, UF = "success", "failed", "skipped", "upstream_failed"
RUN, WAIT, SKIP, UPF = Decision.RUN, Decision.WAIT, Decision.SKIP, Decision.UPSTREAM_FAILED


def up(*states: str | None) -> UpstreamStates:
    """Count upstream states given in order."""
    return UpstreamStates.count(list(states))


@pytest.mark.parametrize(
    ("rule", "states", "expected"),
    [
        ("all_success", [S, S], RUN),
        ("all_success", [S, None], WAIT),
        ("all_success", [S, F], UPF),
        ("all_success", [S, UF], UPF),
        ("all_success", [S, SK], SKIP),
        ("all_failed", [F, UF], RUN),
        ("all_failed", [F, S], SKIP),
        ("all_failed", [F, None], WAIT),
        ("all_done", [S, F, SK], RUN),
        ("all_done", [S, None], WAIT),
        ("all_skipped", [SK, SK], RUN),
        ("all_skipped", [SK, S], SKIP),
        ("one_success", [S, None], RUN),
        ("one_success", [F, None], WAIT),
        ("one_success", [F, F], UPF),
        ("one_success", [SK, SK], SKIP),
        ("one_failed", [F, None], RUN),
        ("one_failed", [S, S], SKIP),
        ("one_failed", [S, None], WAIT),
        ("one_done", [S, None], RUN),
        ("one_done", [SK, SK], SKIP),
        ("none_failed", [S, SK], RUN),
        ("none_failed", [S, F], UPF),
        ("none_failed", [S, None], WAIT),
        ("none_failed_min_one_success", [S, SK], RUN),
        ("none_failed_min_one_success", [SK, SK], SKIP),
        ("none_failed_min_one_success", [UF, S], UPF),
        ("none_skipped", [S, F], RUN),
        ("none_skipped", [S, SK], SKIP),
        ("always", [None, None], RUN),
    ],
)
def test_rule_decisions(rule, states, expected):
    """Each rule follows Airflow's semantics for the given upstream states."""
    assert decide(rule, up(*states)) is expected


@pytest.mark.parametrize("rule", sorted(RULES))
def test_tasks_without_upstream_always_run(rule):
    """A task with no upstream is ready whatever its trigger rule."""
    assert decide(rule, up()) is RUN


def test_unknown_rule_lists_the_known_ones():
    """An unknown rule is an error that lists the valid rules."""
    with pytest.raises(ValueError, match=r"unknown trigger rule 'sometimes'.*'all_success'"):
        decide("sometimes", up(S))
