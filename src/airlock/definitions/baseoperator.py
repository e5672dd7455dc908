"""BaseOperator: the base class of every task, with its settings and its dependencies.

A subclass overrides :meth:`BaseOperator.execute`. Its constructor takes Airflow's keyword
arguments; ``default_args`` (the DAG's, then the operator's own) fill in those the caller left
out. Every subclass's ``__init__`` is wrapped (in ``__init_subclass__``) so that this merge
happens once, in the outermost constructor, for keywords that any ``__init__`` along the
``super()`` chain accepts by name.
"""

from __future__ import annotations

import functools
import inspect
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, ParamSpec, cast

from airlock.definitions import operator_args
from airlock.definitions.dag import DAG, current_dag, validate_id
from airlock.definitions.dependencies import DependencyMixin, Relatives
from airlock.definitions.setup_teardown import SetupTeardownMixin
from airlock.definitions.taskgroup import TaskGroup, current_task_group
from airlock.definitions.trigger_rule import TriggerRule
from airlock.definitions.xcom_arg import XComArg, iter_xcom_args
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime

    import jinja2

    from airlock.definitions.context import Context
    from airlock.definitions.mapped import OperatorPartial
    from airlock.definitions.operator_args import Callbacks

_InitP = ParamSpec("_InitP")

DEFAULT_OWNER: Final = "airflow"
DEFAULT_RETRY_DELAY: Final = timedelta(seconds=300)
DEFAULT_QUEUE: Final = "default"
DEFAULT_POOL: Final = "default_pool"

_NEVER_FROM_DEFAULTS: Final = frozenset({"dag", "default_args", "task_id"})
_NAMED_KINDS: Final = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_POSITIONAL_KINDS: Final = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
)


def _applies_default_args(init: Callable[_InitP, None]) -> Callable[_InitP, None]:
    """Wrap an operator ``__init__`` so that ``default_args`` fill keywords not passed.

    Only the outermost ``__init__`` of a construction merges; the ``super().__init__`` calls it
    makes go straight through. When it returns, XComArgs found in template fields are wired
    as upstream dependencies.
    """
    call = cast("Callable[..., None]", init)

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if self._init_started:
            call(self, *args, **kwargs)
            return
        self._init_started = True
        call(self, *args, **_with_default_args(type(self), args, kwargs))
        self._wire_template_xcom_args()

    return cast("Callable[_InitP, None]", wrapper)


class BaseOperator(SetupTeardownMixin):
    """The base class of operators: one task of a DAG.

    Subclasses override :meth:`execute`, which receives the task context when the task runs.
    All arguments are keyword-only and mirror Airflow's; the main ones:

    Args:
        task_id: the task's name, unique in its DAG (same rules as a dag_id).
        owner: who owns the task.
        retries: how many times a failed try is retried.
        retry_delay: the wait before a retry (a timedelta, or seconds).
        retry_exponential_backoff: double the wait after each retry.
        max_retry_delay: the longest wait between retries (a timedelta, or seconds).
        execution_timeout: how long one try may run (a timedelta, or seconds; > 0).
        trigger_rule: when the task may run given its upstream tasks' states.
        pool: the pool whose slots the task takes; ``pool_slots`` says how many.
        priority_weight: the task's priority within a pool; ``weight_rule`` says how it adds up.
        do_xcom_push: store the return value of ``execute`` as an XCom.
        multiple_outputs: also store each key of a returned dict as its own XCom.
        params: task-level params, merged over the DAG's.
        default_args: defaults for the other keyword arguments, over the DAG's default_args.
        dag: the DAG to join; the innermost ``with DAG`` block by default.
        on_execute_callback: called before ``execute`` (a callable or a list of them); the
            other ``on_*_callback`` arguments work the same way.

    Raises:
        DagDefinitionError: an argument has a value the task cannot use.
        DuplicateTaskIdError: the DAG already has a task with this task_id.
        TypeError: an argument the operator does not know was passed.
    """

    template_fields: Sequence[str] = ()
    """Attributes rendered as templates before ``execute`` runs."""
    template_ext: Sequence[str] = ()
    """File suffixes whose template field values are read from the file and rendered."""
    template_fields_renderers: dict[str, str] = {}  # noqa: RUF012 -- Airflow's public class attribute; subclasses replace it
    """How the UI displays each template field (``"sql"``, ``"json"``, ...)."""
    ui_color: str = "#fff"
    """The background colour of the task in the UI."""
    ui_fgcolor: str = "#000"
    """The text colour of the task in the UI."""

    _init_started: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _applies_default_args(cls.__dict__["__init__"])  # type: ignore[method-assign]

    @_applies_default_args
    def __init__(  # noqa: PLR0915 -- one plain assignment per Airflow argument, nothing to split
        self,
        *,
        task_id: str,
        owner: str = DEFAULT_OWNER,
        retries: int | None = 0,
        retry_delay: timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        execution_timeout: timedelta | float | None = None,
        trigger_rule: str = TriggerRule.ALL_SUCCESS,
        depends_on_past: bool = False,
        ignore_first_depends_on_past: bool = True,
        wait_for_past_depends_before_skipping: bool = False,
        wait_for_downstream: bool = False,
        queue: str = DEFAULT_QUEUE,
        pool: str = DEFAULT_POOL,
        pool_slots: int = 1,
        priority_weight: int = 1,
        weight_rule: Any = "downstream",
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        params: dict[str, Any] | None = None,
        default_args: dict[str, Any] | None = None,
        dag: DAG | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        email: str | Iterable[str] | None = None,
        email_on_failure: bool = True,
        email_on_retry: bool = True,
        on_execute_callback: Callbacks = None,
        on_success_callback: Callbacks = None,
        on_failure_callback: Callbacks = None,
        on_retry_callback: Callbacks = None,
        on_skipped_callback: Callbacks = None,
        max_active_tis_per_dag: int | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor_config: dict[str, Any] | None = None,
        executor: str | None = None,
        inlets: Any = None,
        outlets: Any = None,
        map_index_template: str | None = None,
        doc: str | None = None,
        doc_md: str | None = None,
        doc_rst: str | None = None,
        doc_json: str | None = None,
        doc_yaml: str | None = None,
        task_display_name: str | None = None,
        resources: dict[str, Any] | None = None,
        run_as_user: str | None = None,
        sla: timedelta | None = None,
        logger_name: str | None = None,
        allow_nested_operators: bool = True,
        task_group: TaskGroup | None = None,
        **kwargs: Any,
    ) -> None:
        del default_args  # already merged into the other arguments by _applies_default_args
        _reject_unknown_arguments(type(self), task_id, kwargs)
        validate_id(task_id, "task_id")
        self.task_group = task_group if task_group is not None else current_task_group()
        self.task_id = self.task_group.child_id(task_id) if self.task_group else task_id
        self.owner = owner
        self.retries = operator_args.as_retries(retries, task_id)
        self.retry_delay = operator_args.as_duration(retry_delay, "retry_delay", task_id)
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = operator_args.as_optional_duration(
            max_retry_delay, "max_retry_delay", task_id
        )
        self.execution_timeout = operator_args.as_timeout(execution_timeout, task_id)
        self.trigger_rule = operator_args.as_trigger_rule(trigger_rule, task_id)
        self.depends_on_past = depends_on_past
        self.ignore_first_depends_on_past = ignore_first_depends_on_past
        self.wait_for_past_depends_before_skipping = wait_for_past_depends_before_skipping
        self.wait_for_downstream = wait_for_downstream
        self.queue = queue
        self.pool = pool
        self.pool_slots = operator_args.as_pool_slots(pool_slots, task_id)
        self.priority_weight = priority_weight
        self.weight_rule = operator_args.as_weight_rule(weight_rule, task_id)
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        self.params = dict(params or {})
        self.start_date = start_date
        self.end_date = end_date
        self.email = email
        self.email_on_failure = email_on_failure
        self.email_on_retry = email_on_retry
        self.on_execute_callback = operator_args.as_callbacks(
            on_execute_callback, "on_execute_callback"
        )
        self.on_success_callback = operator_args.as_callbacks(
            on_success_callback, "on_success_callback"
        )
        self.on_failure_callback = operator_args.as_callbacks(
            on_failure_callback, "on_failure_callback"
        )
        self.on_retry_callback = operator_args.as_callbacks(on_retry_callback, "on_retry_callback")
        self.on_skipped_callback = operator_args.as_callbacks(
            on_skipped_callback, "on_skipped_callback"
        )
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.max_active_tis_per_dagrun = max_active_tis_per_dagrun
        self.executor_config = dict(executor_config or {})
        self.executor = executor
        self.inlets = operator_args.as_list(inlets)
        self.outlets = operator_args.as_list(outlets)
        self.map_index_template = map_index_template
        self.doc = doc
        self.doc_md = doc_md
        self.doc_rst = doc_rst
        self.doc_json = doc_json
        self.doc_yaml = doc_yaml
        self.task_display_name = task_display_name or task_id
        self.resources = resources
        self.run_as_user = run_as_user
        self.sla = sla
        self.logger_name = logger_name
        self.allow_nested_operators = allow_nested_operators
        self._upstream: dict[str, BaseOperator] = {}
        self._downstream: dict[str, BaseOperator] = {}
        self._dag: DAG | None = None
        self._join_dag(dag if dag is not None or self.task_group is None else self.task_group.dag)
        if self.task_group is not None:
            self.task_group.add(self)

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"

    # --- the DAG ------------------------------------------------------------------------------

    @property
    def dag(self) -> DAG | None:
        """The DAG the task belongs to, or None while it belongs to none."""
        return self._dag

    @dag.setter
    def dag(self, dag: DAG) -> None:
        if not isinstance(dag, DAG):
            raise TypeError(f"task {self.task_id!r}: dag must be a DAG, not {type(dag).__name__}")
        dag.add_task(self)

    @property
    def dag_id(self) -> str:
        """The id of the task's DAG (``adhoc_<owner>`` while it has none, as in Airflow)."""
        return self._dag.dag_id if self._dag is not None else f"adhoc_{self.owner}"

    def has_dag(self) -> bool:
        """Return whether the task belongs to a DAG."""
        return self._dag is not None

    def attach_to_dag(self, dag: DAG) -> None:
        """Record that ``dag`` holds the task (called by :meth:`DAG.add_task`; use that)."""
        self._dag = dag
        if self.start_date is None:
            self.start_date = dag.start_date
        if self.end_date is None:
            self.end_date = dag.end_date

    def _join_dag(self, dag: DAG | None) -> None:
        """Join ``dag``, or the innermost active ``with DAG`` block, if any."""
        target = dag if dag is not None else current_dag()
        if target is not None:
            self.dag = target

    # --- dependencies -------------------------------------------------------------------------

    @property
    def upstream_task_ids(self) -> set[str]:
        """The ids of the tasks that run directly before this one."""
        return set(self._upstream)

    @property
    def downstream_task_ids(self) -> set[str]:
        """The ids of the tasks that run directly after this one."""
        return set(self._downstream)

    @property
    def upstream_list(self) -> list[BaseOperator]:
        """The tasks that run directly before this one, in the order they were linked."""
        return list(self._upstream.values())

    @property
    def downstream_list(self) -> list[BaseOperator]:
        """The tasks that run directly after this one, in the order they were linked."""
        return list(self._downstream.values())

    def get_direct_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Return the ids of the direct upstream (or downstream) tasks."""
        return self.upstream_task_ids if upstream else self.downstream_task_ids

    def set_upstream(self, other: Relatives) -> None:
        """Make ``other`` (a task, an XComArg, or a list of them) run before this task.

        Raises:
            DagDefinitionError: the tasks belong to two different DAGs.
            TypeError: ``other`` holds something that is not a task.
        """
        others, proxies = _split_relatives(other)
        for proxy in proxies:
            proxy.set_downstream(self)
        for task in _link_in_one_dag(self, others):
            _add_edge(task, self)

    def set_downstream(self, other: Relatives) -> None:
        """Make ``other`` (a task, an XComArg, or a list of them) run after this task.

        Raises:
            DagDefinitionError: the tasks belong to two different DAGs.
            TypeError: ``other`` holds something that is not a task.
        """
        others, proxies = _split_relatives(other)
        for proxy in proxies:
            proxy.set_upstream(self)
        for task in _link_in_one_dag(self, others):
            _add_edge(self, task)

    def _wire_template_xcom_args(self) -> None:
        """Make the tasks referenced by XComArgs in template fields upstream of this one."""
        for field in self.template_fields:
            for xcom_arg in iter_xcom_args(getattr(self, field, None)):
                self.set_upstream(xcom_arg.operators)

    # --- dynamic task mapping -----------------------------------------------------------------

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """Start a mapped task: arguments every mapped task instance shares, then ``.expand()``.

        ``Operator.partial(task_id="t", retries=2).expand(x=[1, 2, 3])`` adds one task that
        runs three task instances (map indexes 0, 1, 2).

        Raises:
            TypeError: ``task_id`` is missing or an argument is unknown to the operator.
        """
        from airlock.definitions.mapped import OperatorPartial  # noqa: PLC0415 -- cycle

        return OperatorPartial(cls, kwargs)

    @property
    def is_mapped(self) -> bool:
        """Whether this task is a mapped task (``partial(...).expand(...)``)."""
        return False

    @property
    def needs_expansion(self) -> bool:
        """Whether this task runs as mapped task instances (mapped, or in a mapped group)."""
        return self.is_mapped or self.get_closest_mapped_task_group() is not None

    def get_closest_mapped_task_group(self) -> TaskGroup | None:
        """Return the innermost mapped task group holding this task, if any."""
        group = self.task_group
        return group.get_closest_mapped_task_group() if group is not None else None

    # --- running ------------------------------------------------------------------------------

    @property
    def output(self) -> XComArg:
        """A reference to this task's return value, to pass to other tasks."""
        return XComArg(self)

    @property
    def task_type(self) -> str:
        """The operator's class name."""
        return type(self).__name__

    @property
    def log(self) -> logging.Logger:
        """The logger task code uses: ``airlock.task.operators.<module>.<class>``.

        ``logger_name`` replaces the part after ``airlock.task.operators.``.
        """
        cls = type(self)
        name = self.logger_name or f"{cls.__module__}.{cls.__qualname__}"
        return logging.getLogger(f"airlock.task.operators.{name}")

    def render_template_fields(
        self, context: Context, jinja_env: jinja2.Environment | None = None
    ) -> None:
        """Render each of ``template_fields`` in place (the runner does it before ``execute``).

        Raises:
            TemplateRenderError: a field could not be rendered; names it and why.
        """
        from airlock.definitions import templating  # noqa: PLC0415 -- Jinja only when rendering

        templating.render_template_fields(self, context, jinja_env)

    def render_template(
        self, content: Any, context: Context, jinja_env: jinja2.Environment | None = None
    ) -> Any:
        """Return ``content`` rendered as this task renders its template fields."""
        from airlock.definitions import templating  # noqa: PLC0415 -- Jinja only when rendering

        return templating.Renderer(self, context, jinja_env).render(content)

    def get_template_env(self) -> jinja2.Environment:
        """Return the Jinja environment of the task's DAG (its macros, filters, settings)."""
        from airlock.definitions import templating  # noqa: PLC0415 -- Jinja only when rendering

        return templating.template_env(self.dag)

    def execute(self, context: Context) -> Any:  # noqa: ARG002 -- subclasses use it
        """Do the task's work; the return value becomes its ``return_value`` XCom.

        Raises:
            DagDefinitionError: the subclass did not override this method.
        """
        raise DagDefinitionError(
            f"{type(self).__name__} (task {self.task_id!r}) must override execute(self, context): "
            "BaseOperator.execute has no work of its own to do"
        )

    def pre_execute(self, context: Context) -> None:
        """Run just before :meth:`execute`; does nothing unless overridden."""

    def post_execute(self, context: Context, result: Any = None) -> None:
        """Run just after :meth:`execute` with its result; does nothing unless overridden."""

    def on_kill(self) -> None:
        """Clean up when the task is killed (timeout, SIGTERM); does nothing unless overridden."""


# --- default_args ---------------------------------------------------------------------------


def _with_default_args(
    cls: type[BaseOperator], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Return ``kwargs`` completed from the DAG's and the operator's ``default_args``."""
    group = kwargs.get("task_group") or current_task_group()
    dag = kwargs.get("dag") or (group.dag if isinstance(group, TaskGroup) else current_dag())
    dag = dag if isinstance(dag, DAG) else None
    defaults = {
        **(dag.default_args if dag else {}),
        **(group.default_args if isinstance(group, TaskGroup) else {}),
        **(kwargs.get("default_args") or {}),
    }
    accepted = accepted_keywords(cls)
    taken = kwargs.keys() | _positional_names(cls, len(args)) | _NEVER_FROM_DEFAULTS
    merged = {**kwargs, **{k: v for k, v in defaults.items() if k in accepted - taken}}
    if "params" in accepted:
        merged["params"] = _merged_params(dag, defaults, kwargs.get("params"))
    return merged


def _merged_params(
    dag: DAG | None, defaults: dict[str, Any], params: dict[str, Any] | None
) -> dict[str, Any]:
    """Merge params: the DAG's, then those of default_args, then the task's own."""
    return {**(dag.params if dag else {}), **(defaults.get("params") or {}), **(params or {})}


@functools.cache
def accepted_keywords(cls: type[BaseOperator]) -> frozenset[str]:
    """Return the keyword arguments ``cls(...)`` accepts by name.

    Follows the ``__init__`` methods along the class's MRO for as long as each one passes
    ``**kwargs`` on, down to ``BaseOperator``'s.
    """
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(inspect.unwrap(init)).parameters.values()
        names.update(p.name for p in parameters if p.kind in _NAMED_KINDS)
        passes_on = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        if klass is BaseOperator or not passes_on:
            break
    names.discard("self")
    return frozenset(names)


def _positional_names(cls: type[BaseOperator], count: int) -> set[str]:
    """Return the names of the first ``count`` positional parameters of ``cls.__init__``."""
    if not count:
        return set()
    parameters = inspect.signature(inspect.unwrap(cls.__init__)).parameters.values()
    names = [p.name for p in parameters if p.kind in _POSITIONAL_KINDS][1:]  # skip self
    return set(names[:count])


def _reject_unknown_arguments(
    cls: type[BaseOperator], task_id: str, kwargs: dict[str, Any]
) -> None:
    """Raise a TypeError naming the operator and the keyword arguments it does not accept."""
    if kwargs:
        raise TypeError(
            f"{cls.__name__} (task_id {task_id!r}) got unexpected keyword arguments: "
            f"{', '.join(sorted(kwargs))}; check their spelling against {cls.__name__}'s "
            "arguments and BaseOperator's"
        )


# --- dependencies ---------------------------------------------------------------------------


def _split_relatives(other: Relatives) -> tuple[list[object], list[DependencyMixin]]:
    """Split a dependency argument into tasks (and XComArgs) and the other kinds of relative.

    The other kinds (task groups, edge labels) link themselves: ``task >> group`` becomes
    ``group.set_upstream(task)``.
    """
    tasks: list[object] = []
    proxies: list[DependencyMixin] = []
    for item in _as_items(other):
        is_proxy = isinstance(item, DependencyMixin) and not isinstance(
            item, BaseOperator | XComArg
        )
        (proxies if is_proxy else tasks).append(item)  # type: ignore[arg-type]
    return tasks, proxies


def _link_in_one_dag(task: BaseOperator, other: Sequence[object]) -> list[BaseOperator]:
    """Return the operators in ``other``, after putting them all in ``task``'s DAG.

    A task without a DAG joins the DAG of the others, as in Airflow.
    """
    others = [operator for item in other for operator in _as_operators(item)]
    dags = {id(t.dag): t.dag for t in [task, *others] if t.dag is not None}
    if len(dags) > 1:
        names = " and ".join(repr(d.dag_id) for d in dags.values())
        raise DagDefinitionError(
            f"cannot link task {task.task_id!r} to tasks of another DAG (DAGs {names}): "
            "dependencies must stay within one DAG"
        )
    for dag in dags.values():
        dag.add_tasks(t for t in [task, *others] if t.dag is None)
    return others


def _add_edge(upstream: BaseOperator, downstream: BaseOperator) -> None:
    """Record that ``downstream`` runs after ``upstream``."""
    upstream._downstream[downstream.task_id] = downstream  # noqa: SLF001 -- both ends are BaseOperators
    downstream._upstream[upstream.task_id] = upstream  # noqa: SLF001 -- both ends are BaseOperators


def _as_items(other: Relatives) -> Sequence[object]:
    """Return a dependency argument as a sequence."""
    return [other] if isinstance(other, DependencyMixin) else other


def _as_operators(item: object) -> list[BaseOperator]:
    """Return the operators behind a dependency item (an operator or an XComArg)."""
    if isinstance(item, BaseOperator):
        return [item]
    if isinstance(item, XComArg):
        return item.operators
    raise TypeError(
        f"cannot set a dependency on {type(item).__name__} {item!r}: "
        "expected an operator, an XComArg, or a list of them"
    )
