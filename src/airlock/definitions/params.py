"""Run parameters: ``Param`` (a value with a JSON Schema) and ``ParamsDict`` (a DAG's params).

``params={"n": 3, "env": Param("dev", enum=["dev", "prod"])}`` on a DAG or a task declares
them; a run's ``conf`` overrides their values. The trusted side validates every run's params
against the schemas when the run is created (``airlock.scheduling.run_params``): a run with an
invalid param never starts. In the task, ``context["params"]`` is a :class:`ParamsDict` whose
items read as the resolved values.

The ``jsonschema`` library is imported only by :meth:`Param.resolve` and
:meth:`ParamsDict.validate`: a task runner that only reads params never loads it.
"""

from __future__ import annotations

import copy
from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, ValuesView
from typing import TYPE_CHECKING, Any, Final

import msgspec

from airlock.definitions.serialized import SerializedParam
from airlock.definitions.variable import NOTSET
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.dag import DAG

_SCHEMA_KEY: Final = "schema"


class ParamValidationError(DagDefinitionError):
    """A param's value does not satisfy its schema, or a required param has no value."""


class Param:
    """A run parameter: a default value, a description, and a JSON Schema the value must meet.

    Args:
        default: the value when a run's conf does not give one; leave it out for a required
            param (its value must then come from the conf).
        description: what the param is for.
        **schema: JSON Schema keywords (``type``, ``enum``, ``minimum``, ``format``, ...), or
            one ``schema=`` dict holding them.

    Raises:
        DagDefinitionError: ``default`` cannot be represented as JSON.
    """

    def __init__(
        self, default: Any = NOTSET, description: str | None = None, **schema: Any
    ) -> None:
        if default is not NOTSET:
            _check_json(default, "default")
        self.value = default
        self.description = description
        self.schema: dict[str, Any] = dict(schema.pop(_SCHEMA_KEY, None) or schema)

    def __repr__(self) -> str:
        return f"Param({self.value!r}, schema={self.schema!r})"

    def __copy__(self) -> Param:
        return Param(self.value, self.description, schema=copy.deepcopy(self.schema))

    @property
    def has_value(self) -> bool:
        """Whether the param has a value (a default or one set since)."""
        return self.value is not NOTSET and self.value is not None

    def resolve(self, value: Any = NOTSET, *, suppress_exception: bool = False) -> Any:
        """Return ``value`` (or the param's own value) once it is checked against the schema.

        Raises:
            ParamValidationError: there is no value, or it does not satisfy the schema (unless
                ``suppress_exception``, which returns None instead).
        """
        final = self.value if value is NOTSET else value
        try:
            _check_value(final, self.schema)
        except ParamValidationError:
            if suppress_exception:
                return None
            raise
        self.value = final
        return final

    def dump(self) -> dict[str, Any]:
        """Return the param as a dict: ``value``, ``description`` and ``schema``."""
        value = None if self.value is NOTSET else self.value
        return {"value": value, "description": self.description, "schema": self.schema}


class ParamsDict(MutableMapping[str, Any]):
    """The params of a DAG or a task: names mapped to :class:`Param` objects.

    Reading an item gives the param's value; assigning one sets the value (a ``Param``
    replaces the declaration). Values are not validated on read: call :meth:`validate`.

    Args:
        dict_obj: the initial params (plain values or ``Param`` objects).
        suppress_exception: make :meth:`validate` give None for invalid params instead of raising.
    """

    def __init__(
        self, dict_obj: Mapping[str, Any] | None = None, *, suppress_exception: bool = False
    ) -> None:
        self._params: dict[str, Param] = {}
        self.suppress_exception = suppress_exception
        for name, value in (dict_obj or {}).items():
            self[name] = value

    def __repr__(self) -> str:
        return f"ParamsDict({self.dump()!r})"

    def __getitem__(self, key: str) -> Any:
        value = self._params[key].value
        return None if value is NOTSET else value

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Param):
            self._params[key] = value
        elif isinstance(value, ParamsDict):
            raise TypeError(f"param {key!r}: a ParamsDict cannot be one param's value")
        elif key in self._params:
            self._params[key] = copy.copy(self._params[key])
            self._params[key].value = value
        else:
            self._params[key] = Param(value)

    def __delitem__(self, key: str) -> None:
        del self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __getattr__(self, name: str) -> Any:
        """Let templates write ``params.name`` as well as ``params["name"]``."""
        if name.startswith("_") or name not in self._params:
            raise AttributeError(name)
        return self[name]

    def __copy__(self) -> ParamsDict:
        return ParamsDict(
            {k: copy.copy(p) for k, p in self._params.items()},
            suppress_exception=self.suppress_exception,
        )

    def items(self) -> ItemsView[str, Any]:
        """The names and values of the params."""
        return ItemsView(self)

    def values(self) -> ValuesView[Any]:
        """The values of the params."""
        return ValuesView(self)

    def get_param(self, key: str) -> Param:
        """Return the ``Param`` object of ``key`` (its schema and description too)."""
        return self._params[key]

    def dump(self) -> dict[str, Any]:
        """Return the params' values as a plain dict."""
        return dict(self.items())

    def validate(self) -> dict[str, Any]:
        """Check every param against its schema; return the values.

        Raises:
            ParamValidationError: a param has no value or an invalid one; the message names it.
        """
        resolved: dict[str, Any] = {}
        for name, param in self._params.items():
            try:
                resolved[name] = param.resolve(suppress_exception=self.suppress_exception)
            except ParamValidationError as exc:
                raise ParamValidationError(f"param {name!r}: {exc}") from None
        return resolved


def _check_value(value: Any, schema: dict[str, Any]) -> None:
    if value is NOTSET:
        raise ParamValidationError("no value was given and the param has no default")
    validate_value(value, schema)


def validate_value(value: Any, schema: dict[str, Any]) -> None:
    """Check ``value`` against the JSON Schema ``schema`` (formats included).

    Raises:
        ParamValidationError: the value does not satisfy the schema; says why.
    """
    if not schema:
        return
    import jsonschema  # noqa: PLC0415 -- loaded only where params are validated

    try:
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        where = "".join(f"[{part!r}]" for part in exc.absolute_path)
        raise ParamValidationError(f"{value!r}{where}: {exc.message}") from None
    except jsonschema.SchemaError as exc:
        raise ParamValidationError(f"the schema is not valid JSON Schema: {exc.message}") from None


def as_params_dict(params: Mapping[str, Any] | None) -> ParamsDict:
    """Return ``params`` as a :class:`ParamsDict` (copying the Param objects)."""
    if isinstance(params, ParamsDict):
        return copy.copy(params)
    return ParamsDict(
        {k: copy.copy(v) if isinstance(v, Param) else v for k, v in (params or {}).items()}
    )


def _as_json_data(value: Any) -> Any:
    """Return ``value`` as plain JSON data (datetimes become ISO strings)."""
    return msgspec.json.decode(msgspec.json.encode(value))


def _check_json(value: Any, what: str) -> None:
    try:
        _as_json_data(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise DagDefinitionError(
            f"a Param's {what} must be JSON data (str, numbers, bool, None, lists, dicts): {exc}"
        ) from None


def dag_param_specs(dag: DAG) -> dict[str, SerializedParam]:
    """Return the declarations of a DAG's params, for the trusted side to validate runs with.

    A DAG with a schedule must be able to run without a conf, so each of its params then needs
    a default that satisfies its schema (Airflow's rule).

    Raises:
        DagDefinitionError: a param's default has no JSON form.
        ParamValidationError: the DAG has a schedule and a param has no valid default.
    """
    specs = {name: _spec(f"DAG {dag.dag_id!r}", name, value) for name, value in dag.params.items()}
    if dag.schedule is not None:
        for name, spec in specs.items():
            _check_default_for_schedule(dag.dag_id, name, spec)
    return specs


def task_param_specs(task: BaseOperator) -> dict[str, SerializedParam]:
    """Return the declarations of the params a task has beyond (or unlike) its DAG's."""
    dag_params = task.dag.params if task.dag is not None else {}
    owner = f"task {task.task_id!r}"
    return {
        name: _spec(owner, name, value)
        for name, value in task.params.items()
        if name not in dag_params or dag_params[name] is not value
    }


def _spec(owner: str, name: str, value: Any) -> SerializedParam:
    param = value if isinstance(value, Param) else None
    default = param.value if param is not None else value
    try:
        data = None if default is NOTSET else _as_json_data(default)
    except (TypeError, msgspec.EncodeError) as exc:
        raise DagDefinitionError(
            f"param {name!r} of {owner} cannot be stored as JSON ({type(default).__name__}: "
            f"{exc}); use str, numbers, bool, None, lists and dicts"
        ) from None
    return SerializedParam(
        default=data,
        has_default=default is not NOTSET,
        description=param.description if param is not None else None,
        schema=param.schema if param is not None else {},
    )


def _check_default_for_schedule(dag_id: str, name: str, spec: SerializedParam) -> None:
    problem = "it has no default"
    if spec.has_default:
        try:
            validate_value(spec.default, spec.schema)
        except ParamValidationError as exc:
            problem = f"its default is not valid: {exc}"
        else:
            return
    raise ParamValidationError(
        f"DAG {dag_id!r} has a schedule, so every param needs a valid default, but param "
        f"{name!r}: {problem}; give it a valid default or set schedule=None"
    )
