"""What the scheduler derives from a DAG's structure: relatives, setup scopes, effective leaves.

Computed once per DAG structure from the serialized tasks (no user code) and cached, since a
scheduling pass asks the same questions of the same DAG again and again.

Setup and teardown rules, as in Airflow:

- a task's *relevant indirect setups* are the setup tasks upstream of it (not directly) whose
  teardowns are downstream of it, or that have no teardown: the task runs only once they all
  succeeded (a failed one makes it upstream_failed, a skipped one skips it);
- a teardown waits for the tasks in its *scope*: those between its setups and itself;
- the run's state is decided by its *effective leaves*: the leaves, where a teardown (unless
  ``on_failure_fail_dagrun``) does not count and the tasks before it count in its place.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cached_property
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Hashable

    from airlock.definitions.serialized import SerializedDag, SerializedTask

_CACHE_SIZE: Final = 64
_cache: OrderedDict[Hashable, TaskGraph] = OrderedDict()


def task_graph(dag: SerializedDag) -> TaskGraph:
    """Return the (cached) graph of ``dag``'s current structure."""
    key = (
        dag.dag_id,
        tuple(
            (t.task_id, t.upstream_task_ids, t.is_setup, t.is_teardown, t.on_failure_fail_dagrun)
            for t in dag.tasks
        ),
    )
    graph = _cache.get(key)
    if graph is None:
        graph = _cache[key] = TaskGraph(dag)
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return graph


class TaskGraph:
    """The dependency structure of one DAG, with the setup/teardown questions answered.

    Args:
        dag: the serialized DAG.
    """

    def __init__(self, dag: SerializedDag) -> None:
        self.tasks: dict[str, SerializedTask] = {task.task_id: task for task in dag.tasks}
        self.downstream: dict[str, set[str]] = {task_id: set() for task_id in self.tasks}
        for task in dag.tasks:
            for upstream in task.upstream_task_ids:
                self.downstream[upstream].add(task.task_id)
        self._upstream_closures: dict[str, frozenset[str]] = {}
        self._downstream_closures: dict[str, frozenset[str]] = {}
        self._indirect_setups: dict[str, tuple[str, ...]] = {}
        self._teardown_scopes: dict[str, tuple[str, ...]] = {}

    def upstream_closure(self, task_id: str) -> frozenset[str]:
        """Return every task upstream of ``task_id``, directly or not."""
        return self._closure(task_id, self._upstream_closures, upstream=True)

    def downstream_closure(self, task_id: str) -> frozenset[str]:
        """Return every task downstream of ``task_id``, directly or not."""
        return self._closure(task_id, self._downstream_closures, upstream=False)

    def _closure(
        self, task_id: str, cache: dict[str, frozenset[str]], *, upstream: bool
    ) -> frozenset[str]:
        found = cache.get(task_id)
        if found is not None:
            return found
        seen: set[str] = set()
        frontier = [task_id]
        while frontier:
            current = frontier.pop()
            step = self.tasks[current].upstream_task_ids if upstream else self.downstream[current]
            fresh = [relative for relative in step if relative not in seen]
            seen.update(fresh)
            frontier.extend(fresh)
        cache[task_id] = frozenset(seen)
        return cache[task_id]

    def indirect_setups(self, task_id: str) -> tuple[str, ...]:
        """Return the relevant setups upstream of ``task_id`` that are not direct upstreams."""
        found = self._indirect_setups.get(task_id)
        if found is None:
            found = self._indirect_setups[task_id] = self._find_indirect_setups(task_id)
        return found

    def _find_indirect_setups(self, task_id: str) -> tuple[str, ...]:
        direct = set(self.tasks[task_id].upstream_task_ids)
        after = {t for t in self.downstream_closure(task_id) if self.tasks[t].is_teardown}
        relevant: list[str] = []
        for upstream in sorted(self.upstream_closure(task_id) - direct):
            if not self.tasks[upstream].is_setup:
                continue
            teardowns = {t for t in self.downstream[upstream] if self.tasks[t].is_teardown}
            if not teardowns or teardowns & after:
                relevant.append(upstream)
        return tuple(relevant)

    def teardown_scope(self, task_id: str) -> tuple[str, ...]:
        """Return the indirect upstreams of a teardown that lie after one of its setups."""
        found = self._teardown_scopes.get(task_id)
        if found is None:
            found = self._teardown_scopes[task_id] = self._find_teardown_scope(task_id)
        return found

    def _find_teardown_scope(self, task_id: str) -> tuple[str, ...]:
        direct = set(self.tasks[task_id].upstream_task_ids)
        indirect = self.upstream_closure(task_id) - direct
        scope: set[str] = set()
        for setup in (t for t in direct if self.tasks[t].is_setup):
            scope |= indirect & self.downstream_closure(setup)
        return tuple(sorted(scope))

    @cached_property
    def effective_leaves(self) -> tuple[str, ...]:
        """Return the tasks whose states decide the run's state."""
        leaves = tuple(t for t in self.tasks if self._is_effective_leaf(t))
        return leaves or tuple(t for t in self.tasks if not self.downstream[t])

    def _is_effective_leaf(self, task_id: str) -> bool:
        for downstream in self.downstream[task_id]:
            if not self._ignorable(downstream):
                return False
        return not self._ignorable(task_id)

    def _ignorable(self, task_id: str) -> bool:
        task = self.tasks[task_id]
        return task.is_teardown and not task.on_failure_fail_dagrun
