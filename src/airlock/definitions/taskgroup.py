"""Task groups: a named box of tasks inside a DAG, and the ``@task_group`` decorator.

Tasks created inside ``with TaskGroup("load"):`` get ids prefixed with the group's id
(``load.fetch``); groups nest (``etl.load.fetch``). A group takes part in dependencies as a
whole: ``extract >> load_group >> report`` makes ``extract`` run before the group's roots (its
tasks with no upstream task inside the group) and ``report`` after its leaves. ``default_args``
given to a group apply to its tasks, over the DAG's.

A group exists only while the DAG is defined: the scheduler sees plain task ids, plus each
task's group id for display.
"""

from __future__ import annotations

import functools
import inspect
import re
import weakref
from typing import TYPE_CHECKING, Any, Final, Self

from airlock.definitions.dag import DAG, current_dag
from airlock.definitions.dependencies import DependencyMixin, Relatives
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.expand_input import ExpandInput

_GROUP_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_\-]+")
_SUFFIX: Final = re.compile(r"__\d+$")

_group_stack: list[TaskGroup] = []
_used_group_ids: weakref.WeakKeyDictionary[DAG, set[str]] = weakref.WeakKeyDictionary()


def current_task_group() -> TaskGroup | None:
    """Return the group of the innermost active ``with TaskGroup(...)`` block, or None."""
    return _group_stack[-1] if _group_stack else None


class TaskGroup(DependencyMixin):
    """A group of tasks whose ids share a prefix and that link to other tasks as one.

    Use it as a context manager: tasks (and groups) created in the block join it.

    Args:
        group_id: the group's name: ASCII letters, digits, ``_`` and ``-``.
        prefix_group_id: prefix the ids of the group's tasks with the group id (and a dot).
        parent_group: the enclosing group; the innermost active group by default.
        dag: the DAG of the group; the parent group's, or the innermost ``with DAG`` block's.
        default_args: defaults for the arguments of the group's tasks, over the DAG's (and the
            parent group's).
        tooltip: the text shown when hovering the group in a UI.
        ui_color: the group's background colour in a UI.
        ui_fgcolor: the group's text colour in a UI.
        add_suffix_on_collision: when the id is taken, use ``group_id__1``, ``__2``... instead
            of failing.
        group_display_name: the name shown in a UI; the group id by default.

    Raises:
        DagDefinitionError: the id is not valid, already used in the DAG, or there is no DAG.
    """

    is_mapped: bool = False
    """Whether the group's tasks are expanded into mapped task instances."""

    def __init__(  # noqa: PLR0917 -- Airflow's signature, positional arguments included
        self,
        group_id: str,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
        group_display_name: str | None = None,
    ) -> None:
        self.parent_group = parent_group if parent_group is not None else current_task_group()
        self.dag = _group_dag(group_id, dag, self.parent_group)
        self.prefix_group_id = prefix_group_id
        self._label = _free_label(self.dag, self.parent_group, group_id, add_suffix_on_collision)
        parent_defaults = self.parent_group.default_args if self.parent_group else {}
        self.default_args: dict[str, Any] = {**parent_defaults, **(default_args or {})}
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.group_display_name = group_display_name or self._label
        self.children: dict[str, BaseOperator | TaskGroup] = {}
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        _used_group_ids.setdefault(self.dag, set()).add(self.group_id)
        if self.parent_group is not None:
            self.parent_group.children[self.group_id] = self

    def __repr__(self) -> str:
        return f"<TaskGroup: {self.group_id}>"

    @property
    def group_id(self) -> str:
        """The group's full id: its label, prefixed with its parents' ids when they prefix."""
        if self.parent_group is not None:
            return self.parent_group.child_id(self._label)
        return self._label

    @property
    def label(self) -> str:
        """The group's own id, without its parents' prefix."""
        return self._label

    def child_id(self, label: str) -> str:
        """Return the full id of a task or group called ``label`` inside this group."""
        return f"{self.group_id}.{label}" if self.prefix_group_id else label

    def add(self, task: BaseOperator) -> None:
        """Record that ``task`` belongs to this group (operators created in the block do)."""
        self.children[task.task_id] = task

    def __enter__(self) -> Self:
        _group_stack.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _group_stack.pop()  # with blocks nest, so this group is the innermost

    def __iter__(self) -> Iterator[BaseOperator]:
        """Iterate over the group's tasks, including those of nested groups."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child
            else:
                yield child

    @property
    def tasks(self) -> list[BaseOperator]:
        """The group's tasks, nested groups' included, in the order they were created."""
        return list(self)

    @property
    def roots(self) -> list[BaseOperator]:
        """The group's tasks with no upstream task inside the group."""
        tasks = self.tasks
        ids = {task.task_id for task in tasks}
        return [task for task in tasks if task.upstream_task_ids.isdisjoint(ids)]

    @property
    def leaves(self) -> list[BaseOperator]:
        """The group's tasks with no downstream task inside the group.

        A teardown at the end of the group is not a leaf: the tasks it tears down after are,
        so that what follows the group waits for the work, not for the clean-up.
        """
        tasks = self.tasks
        ids = {task.task_id for task in tasks}
        leaves: dict[str, BaseOperator] = {}
        for task in tasks:
            if not task.downstream_task_ids.isdisjoint(ids):
                continue
            found = _work_before_teardown(task, ids) if task.is_teardown else [task]
            leaves.update((leaf.task_id, leaf) for leaf in found)
        return list(leaves.values())

    def set_upstream(self, other: Relatives) -> None:
        """Make ``other`` run before the group's roots."""
        self.upstream_task_ids.update(_task_ids(other))
        for root in self.roots:
            root.set_upstream(other)

    def set_downstream(self, other: Relatives) -> None:
        """Make ``other`` run after the group's leaves."""
        self.downstream_task_ids.update(_task_ids(other))
        for leaf in self.leaves:
            leaf.set_downstream(other)

    def get_closest_mapped_task_group(self) -> TaskGroup | None:
        """Return this group or the nearest enclosing group that is mapped, if any."""
        group: TaskGroup | None = self
        while group is not None and not group.is_mapped:
            group = group.parent_group
        return group


class MappedTaskGroup(TaskGroup):
    """A task group expanded over an input: each of its tasks runs once per input item.

    Made by ``@task_group`` functions' ``.expand()``/``.expand_kwargs()``; inside the
    function, the mapped arguments are placeholders that become the item of the running task
    instance's map index.
    """

    is_mapped = True

    def __init__(self, group_id: str, *, expand_input: ExpandInput, **kwargs: Any) -> None:
        super().__init__(group_id, **kwargs)
        outer = self.parent_group.get_closest_mapped_task_group() if self.parent_group else None
        if outer is not None:
            raise DagDefinitionError(
                f"task group {self.group_id!r} is mapped inside the mapped task group "
                f"{outer.group_id!r}: nested mapped task groups are not supported"
            )
        self.expand_input = expand_input

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for operator, _ in self.expand_input.iter_references():
            self.set_upstream(operator)
        super().__exit__(exc_type, exc_value, traceback)


def _group_dag(group_id: str, dag: DAG | None, parent: TaskGroup | None) -> DAG:
    """Return the DAG a new group belongs to."""
    found = dag or (parent.dag if parent is not None else None) or current_dag()
    if found is None:
        raise DagDefinitionError(
            f"task group {group_id!r} has no DAG: create it inside a `with DAG(...)` block "
            "(or a @dag function), or pass dag=..."
        )
    return found


def _free_label(dag: DAG, parent: TaskGroup | None, label: object, add_suffix: bool) -> str:
    """Return ``label``, or ``label__N`` when ``add_suffix`` and the full id is taken.

    Raises:
        DagDefinitionError: the label is not valid, or the id is taken and ``add_suffix`` is off.
    """
    if not isinstance(label, str) or not _GROUP_ID_PATTERN.fullmatch(label):
        raise DagDefinitionError(
            f"group_id {label!r} is not valid: use only ASCII letters, digits, '_' and '-'"
        )
    used = _used_group_ids.get(dag, set()) | set(dag.task_dict)
    full = parent.child_id(label) if parent is not None else label
    if full not in used:
        return label
    if not add_suffix:
        raise DagDefinitionError(
            f"group_id {full!r} is already used in DAG {dag.dag_id!r}; give the group another "
            "id, or pass add_suffix_on_collision=True"
        )
    base = _SUFFIX.sub("", full)
    pattern = re.compile(rf"{re.escape(base)}__(\d+)")
    suffix = max((int(m.group(1)) for u in used if (m := pattern.fullmatch(u))), default=0) + 1
    return f"{_SUFFIX.sub('', label)}__{suffix}"


def _work_before_teardown(teardown: BaseOperator, ids: set[str]) -> list[BaseOperator]:
    """Return the tasks a group-ending teardown follows, skipping setups and other teardowns."""
    found: list[BaseOperator] = []
    for upstream in teardown.upstream_list:
        if upstream.task_id not in ids or upstream.is_setup:
            continue
        if upstream.is_teardown:
            found.extend(_work_before_teardown(upstream, ids))
        elif not any(
            down.task_id in ids and not down.is_teardown and down is not teardown
            for down in upstream.downstream_list
        ):
            found.append(upstream)
    return found


def _task_ids(other: Relatives) -> set[str]:
    """Return the task ids of a dependency argument's operators and XComArgs."""
    items = [other] if isinstance(other, DependencyMixin) else list(other)
    ids: set[str] = set()
    for item in items:
        task_id = getattr(item, "task_id", None)
        operator = getattr(item, "operator", None)
        if isinstance(task_id, str):
            ids.add(task_id)
        elif operator is not None:
            ids.add(operator.task_id)
    return ids


# --- @task_group ------------------------------------------------------------------------------


class TaskGroupDecorator:
    """A function decorated with ``@task_group``: calling it builds a task group.

    The function runs inside ``with TaskGroup(...)``. The call returns what the function
    returns (so ``a >> group_fn() >> b`` links to the tasks it hands back), or the group itself
    when the function returns None.

    Args:
        function: the decorated function.
        kwargs: :class:`TaskGroup` arguments; ``group_id`` defaults to the function's name,
            ``tooltip`` to its docstring, and ``add_suffix_on_collision`` to True so that the
            function can be called several times.
    """

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.function = function
        self.kwargs = kwargs
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return f"<@task_group {self.function.__qualname__}>"

    def group_arguments(self) -> dict[str, Any]:
        """Return the TaskGroup arguments of the next group this function builds."""
        return {
            "group_id": self.function.__name__,
            "tooltip": inspect.getdoc(self.function) or "",
            "add_suffix_on_collision": True,
            **self.kwargs,
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Build the group by calling the function inside it; return its result or the group."""
        with TaskGroup(**self.group_arguments()) as group:
            result = self.function(*args, **kwargs)
        return group if result is None else result

    def override(self, **kwargs: Any) -> TaskGroupDecorator:
        """Return a copy with some TaskGroup arguments changed (``group_id``, ...)."""
        return TaskGroupDecorator(self.function, {**self.kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> Any:
        """Fix some arguments of the function for a later ``.expand()``."""
        from airlock.definitions.mapped import PartialTaskGroup  # noqa: PLC0415 -- import cycle

        return PartialTaskGroup(self, kwargs)

    def expand(self, **mapped: Any) -> Any:
        """Build a mapped group: its tasks run once per item of the mapped arguments."""
        return self.partial().expand(**mapped)

    def expand_kwargs(self, value: Any) -> Any:
        """Build a mapped group: its tasks run once per dict of arguments in ``value``."""
        return self.partial().expand_kwargs(value)


def task_group(python_callable: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
    """Decorate a function that builds tasks into a task group; usable bare or with arguments.

    Args:
        python_callable: the function, when used as bare ``@task_group``.
        **kwargs: :class:`TaskGroup` arguments (``group_id``, ``default_args``, ``tooltip``...).
    """
    if python_callable is not None:
        return TaskGroupDecorator(python_callable, kwargs)
    return lambda function: TaskGroupDecorator(function, kwargs)
