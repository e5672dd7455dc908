"""The scheduler's view of a DAG's structure: setup scopes and effective leaves."""

from __future__ import annotations

from airlock.definitions.serialized import SerializedDag, SerializedTask
from airlock.scheduling.task_graph import TaskGraph, task_graph
from airlock.scheduling.trigger_rules import Decision, UpstreamStates, decide, setup_constraint


def dag(*tasks: SerializedTask) -> SerializedDag:
    """A serialized DAG of the given tasks."""
    return SerializedDag(dag_id="d", fileloc="/d.py", tasks=tasks)


def t(task_id: str, *upstream: str, **flags: bool) -> SerializedTask:
    """A serialized task."""
    return SerializedTask(task_id=task_id, operator="X", upstream_task_ids=upstream, **flags)


SETUP_DAG = dag(
    t("s", is_setup=True),
    t("a", "s"),
    t("b", "a"),
    t("td", "s", "b", is_teardown=True),
)


def test_relevant_indirect_setups_and_teardown_scope():
    """B's indirect setup is s (its teardown follows b); the teardown waits for a and b."""
    graph = TaskGraph(SETUP_DAG)
    assert graph.indirect_setups("b") == ("s",)
    assert graph.indirect_setups("a") == ()
    assert graph.teardown_scope("td") == ("a",)


def test_effective_leaves_skip_teardowns_unless_they_fail_the_run():
    """A teardown leaf does not decide the run; the work before it does (unless it opts in)."""
    assert TaskGraph(SETUP_DAG).effective_leaves == ("b",)
    counted = dag(
        t("s", is_setup=True), t("td", "s", is_teardown=True, on_failure_fail_dagrun=True)
    )
    assert TaskGraph(counted).effective_leaves == ("td",)


def test_graphs_are_cached_by_structure():
    """The same structure gives the same graph object; a changed one a new graph."""
    assert task_graph(SETUP_DAG) is task_graph(SETUP_DAG)
    assert task_graph(dag(t("x"))) is not task_graph(SETUP_DAG)


def test_all_done_setup_success_rule():
    """A teardown waits for all; runs if a setup succeeded, skips if all skipped, else fails."""
    rule = "all_done_setup_success"
    waiting = UpstreamStates.count(["success", None], ["success"])
    ran = UpstreamStates.count(["success", "failed"], ["success"])
    skipped = UpstreamStates.count(["skipped", "failed"], ["skipped"])
    failed = UpstreamStates.count(["failed", "success"], ["failed"])
    assert decide(rule, waiting) is Decision.WAIT
    assert decide(rule, ran) is Decision.RUN
    assert decide(rule, skipped) is Decision.SKIP
    assert decide(rule, failed) is Decision.UPSTREAM_FAILED


def test_setup_constraint():
    """Indirect setups: failed blocks as upstream_failed, skipped skips, unfinished waits."""
    assert setup_constraint(["failed"]) is Decision.UPSTREAM_FAILED
    assert setup_constraint(["skipped", "success"]) is Decision.SKIP
    assert setup_constraint(["running"]) is Decision.WAIT
    assert setup_constraint(["success"]) is None
