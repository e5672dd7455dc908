"""Rendering an operator's template fields with Jinja before ``execute`` runs.

Each attribute named in ``template_fields`` is rendered in place: strings are Jinja templates
(or, when they end with one of ``template_ext``, names of template files looked up in the DAG
file's folder and the DAG's ``template_searchpath``); lists, tuples, sets and dict values are
walked; XComArgs are replaced by their values; objects with ``template_fields`` of their own
are rendered too. Falsy results leave the attribute alone, as in Airflow.

The environment follows Airflow's: a sandbox (attributes starting with ``__`` are off limits),
``StrictUndefined`` unless the DAG's ``template_undefined`` says otherwise, the ``do``
extension, the DAG's ``user_defined_macros`` and ``user_defined_filters``, its
``jinja_environment_kwargs``, and Jinja's ``NativeEnvironment`` (not sandboxed, as in Airflow)
when ``render_template_as_native_obj`` is set. Jinja is imported on the first string to
render: a task with nothing to render never loads it.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from typing import TYPE_CHECKING, Any

from airlock.definitions.xcom_arg import ResolveMixin
from airlock.exceptions import AirlockError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import jinja2

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.dag import DAG

log = logging.getLogger(__name__)


class TemplateRenderError(AirlockError):
    """A template field could not be rendered; names the task, the field and the cause."""


def _ds(value: Any) -> str:
    return str(value.strftime("%Y-%m-%d"))


def _ds_nodash(value: Any) -> str:
    return str(value.strftime("%Y%m%d"))


def _ts(value: Any) -> str:
    return str(value.isoformat())


def _ts_nodash(value: Any) -> str:
    return str(value.strftime("%Y%m%dT%H%M%S"))


def _ts_nodash_with_tz(value: Any) -> str:
    return str(value.isoformat()).replace("-", "").replace(":", "")


FILTERS: dict[str, Callable[[Any], str]] = {
    "ds": _ds,
    "ds_nodash": _ds_nodash,
    "ts": _ts,
    "ts_nodash": _ts_nodash,
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}
"""Filters every environment has: ``{{ logical_date | ds_nodash }}``."""


def template_env(dag: DAG | None) -> jinja2.Environment:
    """Return a Jinja environment configured from ``dag``'s template settings."""
    import jinja2  # noqa: PLC0415 -- Jinja loads only when something is rendered
    import jinja2.nativetypes  # noqa: PLC0415
    import jinja2.sandbox  # noqa: PLC0415

    options: dict[str, Any] = {"extensions": ["jinja2.ext.do"], "cache_size": 0}
    if dag is None:
        return _sandboxed(jinja2.sandbox.SandboxedEnvironment)(**options)
    folder = os.path.dirname(dag.fileloc) if dag.fileloc else os.getcwd()  # noqa: PTH109, PTH120 -- str paths
    options["loader"] = jinja2.FileSystemLoader([folder, *(dag.template_searchpath or [])])
    options["undefined"] = dag.template_undefined or jinja2.StrictUndefined
    options.update(dag.jinja_environment_kwargs or {})
    if dag.render_template_as_native_obj:
        env: jinja2.Environment = jinja2.nativetypes.NativeEnvironment(**options)
    else:
        env = _sandboxed(jinja2.sandbox.SandboxedEnvironment)(**options)
    env.globals.update(dag.user_defined_macros or {})
    env.filters.update(FILTERS)
    env.filters.update(dag.user_defined_filters or {})
    return env


@functools.cache
def _sandboxed(base: type[jinja2.sandbox.SandboxedEnvironment]) -> type[jinja2.Environment]:
    """Return the sandbox class that, like Airflow's, allows ``_private`` but not ``__dunder``."""
    import jinja2.sandbox  # noqa: PLC0415 -- Jinja loads only when something is rendered

    def is_safe_attribute(_self: Any, obj: Any, attr: str, _value: Any) -> bool:
        return not attr.startswith("__") and not jinja2.sandbox.is_internal_attribute(obj, attr)

    return type("AirlockSandboxedEnvironment", (base,), {"is_safe_attribute": is_safe_attribute})


def render_template_fields(
    task: BaseOperator, context: Mapping[str, Any], jinja_env: jinja2.Environment | None = None
) -> None:
    """Render each of ``task.template_fields`` in place.

    Raises:
        TemplateRenderError: a field failed to render; says which and why.
    """
    renderer = Renderer(task, context, jinja_env)
    renderer.render_fields(task, task.template_fields)


class Renderer:
    """Renders values for one task with one context; builds the Jinja environment on demand.

    Args:
        task: the task whose templates are rendered (its DAG configures the environment).
        context: the task context.
        jinja_env: an environment to use instead of the DAG's.
    """

    def __init__(
        self,
        task: BaseOperator,
        context: Mapping[str, Any],
        jinja_env: jinja2.Environment | None = None,
    ) -> None:
        self.task = task
        self.context = context
        self._env = jinja_env
        self._seen: set[int] = set()

    @property
    def env(self) -> jinja2.Environment:
        """The Jinja environment, created on first use."""
        if self._env is None:
            self._env = template_env(self.task.dag)
        return self._env

    def render_fields(self, parent: Any, fields: Sequence[str]) -> None:
        """Render the attributes ``fields`` of ``parent`` in place."""
        self._seen.add(id(parent))
        for name in fields:
            value = getattr(parent, name, None)
            try:
                rendered = self.render(value)
            except TemplateRenderError:
                raise
            except Exception as exc:
                raise TemplateRenderError(
                    f"task {self.task.task_id!r}: template field {name!r} could not be "
                    f"rendered ({type(exc).__name__}: {exc}); the template was {value!r}"
                ) from exc
            if rendered:
                setattr(parent, name, rendered)

    def render(self, content: Any) -> Any:
        """Return ``content`` rendered: strings as templates, containers walked."""
        if isinstance(content, str):
            return self._render_string(content)
        if isinstance(content, ResolveMixin):
            return content.resolve(self.context)  # type: ignore[arg-type]
        return self._render_container(content)

    def _render_container(self, content: Any) -> Any:
        if type(content) is tuple:
            return tuple(self.render(item) for item in content)
        if isinstance(content, tuple):  # a namedtuple takes its fields positionally
            return type(content)(*(self.render(item) for item in content))
        if isinstance(content, list):
            return [self.render(item) for item in content]
        if isinstance(content, dict):
            return {key: self.render(value) for key, value in content.items()}
        if isinstance(content, set | frozenset):
            return type(content)(self.render(item) for item in content)
        nested = getattr(content, "template_fields", None)
        if nested and id(content) not in self._seen and not isinstance(content, type):
            self.render_fields(content, nested)
        return content

    def _render_string(self, content: str) -> Any:
        if content.endswith(tuple(self.task.template_ext)):
            template = self.env.get_template(content)
        else:
            template = self.env.from_string(content)
        return render_with_context(template, self.context)


def render_with_context(template: jinja2.Template, context: Mapping[str, Any]) -> Any:
    """Render ``template`` with ``context`` shared (its lazy entries stay lazy).

    Returns a string, or a Python object for a ``NativeEnvironment``.
    """
    import jinja2.nativetypes  # noqa: PLC0415 -- Jinja loads only when something is rendered

    env = template.environment
    variables = copy.copy(context)
    for name, value in template.globals.items():
        if name not in variables:
            variables[name] = value  # type: ignore[index]
    try:
        nodes = template.root_render_func(
            env.context_class(env, variables, template.name, template.blocks)  # type: ignore[arg-type]
        )
        if isinstance(env, jinja2.nativetypes.NativeEnvironment):
            return jinja2.nativetypes.native_concat(nodes)
        return "".join(nodes)
    except Exception:  # noqa: BLE001 -- Jinja rewrites the traceback to point into the template
        return env.handle_exception()
