"""PythonOperator: run a Python callable as a task, handing it the context entries it asks for."""

from __future__ import annotations

import inspect
import logging
from collections import ChainMap
from typing import TYPE_CHECKING, Any, Final, cast

from airlock.definitions.baseoperator import BaseOperator
from airlock.definitions.xcom_arg import resolve_xcom_args
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping, Sequence

    from airlock.definitions.context import Context

logger = logging.getLogger(__name__)

_NAMED_KINDS: Final = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_POSITIONAL_KINDS: Final = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
)


def inject_context(
    function: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Return ``kwargs`` plus the context entries ``function`` asks for.

    ``function`` receives each context entry named like one of its parameters, or every entry
    if it takes ``**kwargs``; entries already supplied (by ``args`` or ``kwargs``) are left out.

    Args:
        function: the callable about to be called with ``args`` and the returned keywords.
        args: the positional arguments it will get.
        kwargs: the keyword arguments it will get.
        context: the task context (plus any extra entries, such as ``templates_dict``).
    """
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature asks for nothing
        return dict(kwargs)
    positional = [p.name for p in parameters if p.kind in _POSITIONAL_KINDS][: len(args)]
    supplied = set(positional) | kwargs.keys()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        wanted = [key for key in context if key not in supplied]
    else:
        named = {p.name for p in parameters if p.kind in _NAMED_KINDS}
        wanted = [key for key in context if key in named and key not in supplied]
    return {**kwargs, **{key: context[key] for key in wanted}}


class PythonOperator(BaseOperator):
    """Run ``python_callable(*op_args, **op_kwargs)`` as the task.

    The callable also receives the context entries it names as parameters (all of them if it
    takes ``**kwargs``), and ``templates_dict`` when it accepts that name. XComArgs inside
    ``op_args`` and ``op_kwargs`` are replaced by their values before the call.

    Args:
        python_callable: the function to run.
        op_args: positional arguments for it.
        op_kwargs: keyword arguments for it.
        templates_dict: a dict whose values are rendered as templates, passed as a keyword.
        show_return_value_in_logs: log the return value (turn off for large or secret values).
        **kwargs: any argument of :class:`~airlock.definitions.baseoperator.BaseOperator`.

    Raises:
        DagDefinitionError: ``python_callable`` is not callable.
    """

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}  # noqa: RUF012 -- Airflow's public class attribute
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {self.task_id!r}: python_callable must be callable, "
                f"not {type(python_callable).__name__} {python_callable!r}"
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or ())
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: Context) -> Any:
        """Call the callable and return its result."""
        result = self.execute_callable(context)
        if self.show_return_value_in_logs:
            logger.info("Done. Returned value was: %r", result)
        else:
            logger.info("Done. Returned value not shown")
        return result

    def execute_callable(self, context: Context) -> Any:
        """Call ``python_callable`` with its arguments resolved and its context injected."""
        args = resolve_xcom_args(self.op_args, context)
        kwargs = resolve_xcom_args(self.op_kwargs, context)
        # a view, not a copy: copying would compute every lazy entry (one request each)
        own = {"templates_dict": self.templates_dict}
        extra = ChainMap(own, cast("MutableMapping[str, Any]", context))
        return self.python_callable(
            *args, **inject_context(self.python_callable, args, kwargs, extra)
        )
