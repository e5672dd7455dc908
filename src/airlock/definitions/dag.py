"""The DAG: a named set of tasks and the dependencies between them, plus the ``@dag`` decorator.

Operators created inside ``with DAG(...):`` join that DAG. Every DAG records the file and line
that created it, and is reported to the collector the loader opens around a DAG file's import
(:func:`collect_dags`), so DAGs are found even when no module global holds them.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Self, overload

from airlock.exceptions import CycleError, DagDefinitionError, DuplicateTaskIdError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime, timedelta
    from types import FrameType, TracebackType

    from airlock.definitions.baseoperator import BaseOperator

_P = ParamSpec("_P")

MAX_ID_LENGTH: Final = 250
"""The longest a dag_id or task_id may be."""

MAX_TAG_LENGTH: Final = 100
"""The longest a DAG tag may be."""

_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.\-]+")
_PACKAGE_DIRS: Final = tuple(
    {f"{Path(__file__).parent.parent}{os.sep}", f"{Path(__file__).resolve().parent.parent}{os.sep}"}
)

_dag_stack: list[DAG] = []
_collectors: list[list[DAG]] = []


def validate_id(value: object, kind: str) -> str:
    """Return ``value`` if it is a valid dag_id or task_id.

    Args:
        value: the id to check.
        kind: what the id names (``"dag_id"``, ``"task_id"``), for the error message.

    Raises:
        DagDefinitionError: the id is not a string, is empty or too long, or holds a character
            other than ASCII letters, digits, ``_``, ``.`` and ``-``.
    """
    if not isinstance(value, str):
        raise DagDefinitionError(f"{kind} must be a string, not {type(value).__name__}")
    if len(value) > MAX_ID_LENGTH:
        raise DagDefinitionError(
            f"{kind} {value[:40]!r}... is {len(value)} characters long; "
            f"the limit is {MAX_ID_LENGTH}"
        )
    if not _ID_PATTERN.fullmatch(value):
        raise DagDefinitionError(
            f"{kind} {value!r} is not valid: use only ASCII letters, digits, '_', '.' and '-'"
        )
    return value


def current_dag() -> DAG | None:
    """Return the DAG of the innermost active ``with DAG(...)`` block, or None."""
    return _dag_stack[-1] if _dag_stack else None


@contextmanager
def collect_dags() -> Iterator[list[DAG]]:
    """Collect every DAG created while the block runs into the yielded list.

    The loader wraps a DAG file's import in this. Collectors nest; a DAG goes to the innermost.
    """
    created: list[DAG] = []
    _collectors.append(created)
    try:
        yield created
    finally:
        _collectors.pop()  # blocks nest, so the innermost collector is the last one


class DAG:
    """A DAG: tasks, their dependencies, and the settings of its runs.

    The keyword arguments are Airflow 3's; each is stored as an attribute of the same name.
    Use it as a context manager (``with DAG("etl") as dag:``) so that operators created in the
    block join it.

    Args:
        dag_id: the DAG's name: ASCII letters, digits, ``_``, ``.`` and ``-``, at most 250.
        description: a one-line summary shown in listings.
        schedule: when runs are created: a cron string, a preset such as ``"@daily"``, a
            timedelta, or None for runs triggered by hand only.
        start_date: the first logical date to schedule.
        end_date: the last logical date to schedule.
        default_args: default keyword arguments for the operators of this DAG.
        params: run parameters and their default values; a ``"params"`` entry of
            ``default_args`` is merged in under them.
        max_active_tasks: how many task instances of one DAG may run at once.
        max_active_runs: how many runs may be active at once.
        catchup: whether to create the runs missed between ``start_date`` and now.
        tags: labels to filter DAGs by.
        dagrun_timeout: how long a run may last before it is failed.
        on_success_callback: called (a callable or a list of them) when a run succeeds.
        on_failure_callback: called (a callable or a list of them) when a run fails.
        doc_md: documentation in Markdown.
        render_template_as_native_obj: render templates to Python objects, not strings.
        user_defined_macros: extra names available in templates.
        user_defined_filters: extra filters available in templates.
        template_searchpath: folders where template files are looked up.
        template_undefined: the class used for undefined template variables.
        jinja_environment_kwargs: extra arguments for the template environment.
        fail_fast: stop the other tasks of a run as soon as one fails.
        is_paused_upon_creation: whether the DAG starts paused the first time it is seen.
        owner_links: links shown next to owners' names.
        access_control: per-role permissions on this DAG.
        dag_display_name: the name shown in the UI; the dag_id when not given.
        max_consecutive_failed_dag_runs: pause the DAG after this many failed runs in a row
            (0 means never).
        auto_register: report this DAG to the loader even if no module global holds it.
        disable_bundle_versioning: run every run against the newest version of the DAG files.
        deadline: deadline alerts of the DAG's runs.
        sla_miss_callback: accepted for compatibility; Airflow 3 no longer uses it.

    Raises:
        DagDefinitionError: ``dag_id`` or a tag is not valid.
        TypeError: an unknown keyword argument was passed.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        description: str | None = None,
        schedule: Any = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        default_args: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        max_active_tasks: int = 16,
        max_active_runs: int = 16,
        catchup: bool = False,
        tags: Iterable[str] | None = None,
        dagrun_timeout: timedelta | None = None,
        on_success_callback: Callable[..., Any] | list[Callable[..., Any]] | None = None,
        on_failure_callback: Callable[..., Any] | list[Callable[..., Any]] | None = None,
        doc_md: str | None = None,
        render_template_as_native_obj: bool = False,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        template_undefined: type[Any] | None = None,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        fail_fast: bool = False,
        is_paused_upon_creation: bool | None = None,
        owner_links: dict[str, str] | None = None,
        access_control: dict[str, Any] | None = None,
        dag_display_name: str | None = None,
        max_consecutive_failed_dag_runs: int = 0,
        auto_register: bool = True,
        disable_bundle_versioning: bool = False,
        deadline: Any = None,
        sla_miss_callback: Any = None,
    ) -> None:
        self.dag_id = validate_id(dag_id, "dag_id")
        self.description = description
        self.schedule = schedule
        self.start_date = start_date
        self.end_date = end_date
        self.default_args = dict(default_args or {})
        self.params = {**(self.default_args.pop("params", None) or {}), **(params or {})}
        self.max_active_tasks = max_active_tasks
        self.max_active_runs = max_active_runs
        self.catchup = catchup
        self.tags = _validate_tags(tags)
        self.dagrun_timeout = dagrun_timeout
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.doc_md = doc_md
        self.render_template_as_native_obj = render_template_as_native_obj
        self.user_defined_macros = user_defined_macros
        self.user_defined_filters = user_defined_filters
        self.template_searchpath = _as_search_path(template_searchpath)
        self.template_undefined = template_undefined
        self.jinja_environment_kwargs = jinja_environment_kwargs
        self.fail_fast = fail_fast
        self.is_paused_upon_creation = is_paused_upon_creation
        self.owner_links = dict(owner_links or {})
        self.access_control = access_control
        self.dag_display_name = dag_display_name or dag_id
        self.max_consecutive_failed_dag_runs = max_consecutive_failed_dag_runs
        self.auto_register = auto_register
        self.disable_bundle_versioning = disable_bundle_versioning
        self.deadline = deadline
        self.sla_miss_callback = sla_miss_callback
        self.task_dict: dict[str, BaseOperator] = {}
        self.fileloc, self.fileline = _caller_location()
        if auto_register and _collectors:
            _collectors[-1].append(self)

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"

    def __enter__(self) -> Self:
        _dag_stack.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _dag_stack.pop()  # with blocks nest, so this DAG is the innermost

    @property
    def tasks(self) -> list[BaseOperator]:
        """The DAG's tasks, in the order they were added."""
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        """The ids of the DAG's tasks, in the order they were added."""
        return list(self.task_dict)

    @property
    def roots(self) -> list[BaseOperator]:
        """The tasks with no upstream task."""
        return [task for task in self.task_dict.values() if not task.upstream_task_ids]

    @property
    def leaves(self) -> list[BaseOperator]:
        """The tasks with no downstream task."""
        return [task for task in self.task_dict.values() if not task.downstream_task_ids]

    @property
    def owner(self) -> str:
        """The owners of the DAG's tasks, joined with ``", "``."""
        return ", ".join(dict.fromkeys(task.owner for task in self.task_dict.values()))

    def has_task(self, task_id: str) -> bool:
        """Return whether the DAG has a task with ``task_id``."""
        return task_id in self.task_dict

    def get_task(self, task_id: str) -> BaseOperator:
        """Return the task with ``task_id``.

        Raises:
            KeyError: the DAG has no such task; the message suggests close task ids.
        """
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise KeyError(self._missing_task_message(task_id)) from None

    def add_task(self, task: BaseOperator) -> None:
        """Add ``task`` to the DAG (operators created in ``with DAG`` are added for you).

        Raises:
            DuplicateTaskIdError: another task of the DAG has the same task_id.
            DagDefinitionError: the task already belongs to another DAG.
        """
        existing = self.task_dict.get(task.task_id)
        if existing is task:
            return
        if existing is not None:
            raise DuplicateTaskIdError(task.task_id, self.dag_id)
        if task.has_dag() and task.dag is not self:
            raise DagDefinitionError(
                f"task {task.task_id!r} already belongs to DAG {task.dag_id!r}; "
                f"it cannot also be added to DAG {self.dag_id!r}"
            )
        self.task_dict[task.task_id] = task
        task.attach_to_dag(self)

    def add_tasks(self, tasks: Iterable[BaseOperator]) -> None:
        """Add each of ``tasks`` to the DAG (see :meth:`add_task`)."""
        for task in tasks:
            self.add_task(task)

    def topological_sort(self) -> list[BaseOperator]:
        """Return the tasks with each one after all of its upstream tasks.

        The order is stable: among tasks that could come next, the one added first comes first.

        Raises:
            CycleError: the dependencies form a cycle; the error holds its path.
        """
        ids = list(self.task_dict)
        position = {task_id: index for index, task_id in enumerate(ids)}
        waiting = {tid: len(self.task_dict[tid].upstream_task_ids & position.keys()) for tid in ids}
        ready = [position[tid] for tid, count in waiting.items() if count == 0]
        ordered: list[BaseOperator] = []
        while ready:
            task = self.task_dict[ids[heapq.heappop(ready)]]
            ordered.append(task)
            for downstream_id in task.downstream_task_ids & position.keys():
                waiting[downstream_id] -= 1
                if waiting[downstream_id] == 0:
                    heapq.heappush(ready, position[downstream_id])
        if len(ordered) < len(ids):
            raise CycleError(self.dag_id, self._find_cycle({t.task_id for t in ordered}))
        return ordered

    def check_cycle(self) -> None:
        """Check that the dependencies form no cycle.

        Raises:
            CycleError: they do; the error holds the cycle's path, e.g. ``a -> b -> a``.
        """
        self.topological_sort()

    def _find_cycle(self, sorted_ids: set[str]) -> list[str]:
        """Return a cycle among the tasks a topological sort could not place.

        Each such task has an upstream task that could not be placed either, so walking
        upstream from one of them must come back to a task already seen.
        """
        unsorted = [task_id for task_id in self.task_dict if task_id not in sorted_ids]
        walk: list[str] = []
        current = unsorted[0]
        while current not in walk:
            walk.append(current)
            upstream = self.task_dict[current].upstream_task_ids
            current = next(task_id for task_id in unsorted if task_id in upstream)
        cycle = [*walk[walk.index(current) :], current]
        return cycle[::-1]

    def _missing_task_message(self, task_id: str) -> str:
        """Describe a failed task lookup, suggesting the closest existing ids."""
        import difflib  # noqa: PLC0415 -- only needed on this error path

        close = difflib.get_close_matches(task_id, self.task_dict, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return f"DAG {self.dag_id!r} has no task {task_id!r}{hint}"


DAG_ARGUMENTS: Final = frozenset(inspect.signature(DAG).parameters) - {"dag_id"}
"""The keyword arguments ``DAG`` accepts besides ``dag_id``."""


@overload
def dag(dag_id: Callable[_P, Any]) -> Callable[_P, DAG]: ...


@overload
def dag(
    dag_id: str | None = None, **dag_kwargs: Any
) -> Callable[[Callable[_P, Any]], Callable[_P, DAG]]: ...


def dag(
    dag_id: str | Callable[_P, Any] | None = None, **dag_kwargs: Any
) -> Callable[_P, DAG] | Callable[[Callable[_P, Any]], Callable[_P, DAG]]:
    """Turn a function into a DAG factory; usable as ``@dag`` and ``@dag(...)``.

    Calling the decorated function creates a DAG (its dag_id defaults to the function's name),
    runs the function's body inside ``with`` that DAG, and returns the DAG. The function's
    arguments become DAG params unless ``params`` already has them, and its docstring becomes
    ``doc_md`` unless one is given.

    Args:
        dag_id: the DAG's id (or, as bare ``@dag``, the decorated function).
        **dag_kwargs: any keyword argument of :class:`DAG`.

    Raises:
        TypeError: a keyword argument is not one ``DAG`` accepts.
    """
    if callable(dag_id):
        return _dag_factory(dag_id, None, {})
    _check_dag_kwargs(dag_kwargs)
    dag_name = dag_id
    return lambda function: _dag_factory(function, dag_name, dag_kwargs)


def _dag_factory(
    function: Callable[_P, Any], dag_id: str | None, dag_kwargs: dict[str, Any]
) -> Callable[_P, DAG]:
    """Wrap ``function`` so that calling it builds and returns a DAG."""

    @functools.wraps(function)
    def factory(*args: _P.args, **kwargs: _P.kwargs) -> DAG:
        bound = inspect.signature(function).bind(*args, **kwargs)
        bound.apply_defaults()
        settings = {"doc_md": function.__doc__, **dag_kwargs}
        settings["params"] = {**_arguments_as_params(bound), **(dag_kwargs.get("params") or {})}
        with DAG(dag_id or function.__name__, **settings) as new_dag:
            function(*bound.args, **bound.kwargs)
        return new_dag

    return factory


def _arguments_as_params(bound: inspect.BoundArguments) -> dict[str, Any]:
    """Return the named arguments of a ``@dag`` function call, to become DAG params."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = bound.signature.parameters
    return {k: v for k, v in bound.arguments.items() if parameters[k].kind not in variadic}


def _check_dag_kwargs(dag_kwargs: dict[str, Any]) -> None:
    """Reject keyword arguments ``DAG`` would not accept, when ``@dag(...)`` is applied."""
    unknown = sorted(dag_kwargs.keys() - DAG_ARGUMENTS)
    if unknown:
        raise TypeError(f"@dag() got unexpected keyword arguments: {', '.join(unknown)}")


def _validate_tags(tags: Iterable[str] | None) -> set[str]:
    """Return ``tags`` as a set, checking each one's length."""
    checked = set(tags or ())
    for tag in checked:
        if len(tag) > MAX_TAG_LENGTH:
            raise DagDefinitionError(
                f"tag {tag[:40]!r}... is {len(tag)} characters long; the limit is {MAX_TAG_LENGTH}"
            )
    return checked


def _as_search_path(value: str | Iterable[str] | None) -> list[str] | None:
    """Return a template search path as a list of folders."""
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _caller_location() -> tuple[str, int]:
    """Return the file and line of the first frame outside airlock that led here."""
    frame: FrameType | None = inspect.currentframe()
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIRS):
        frame = frame.f_back
    if frame is None:
        return "", 0
    return os.path.abspath(frame.f_code.co_filename), frame.f_lineno  # noqa: PTH100 -- a str path is what the loader compares against
