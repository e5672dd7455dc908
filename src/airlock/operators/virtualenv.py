"""PythonVirtualenvOperator (``@task.virtualenv``): run a function inside its own virtualenv.

The function's source (decorators removed) is written to a script that a virtualenv's Python
runs, with ``op_args``/``op_kwargs`` passed as JSON and the return value read back as JSON, so
the function must be self-contained: imports inside its body, JSON-able arguments and result.
Virtualenvs are created with ``python -m venv`` and ``pip install`` of ``requirements``, and
kept under ``$AIRLOCK_HOME/venvs/<hash of the settings>`` for the next run to reuse (a lock file
keeps two tasks from building the same one at once). The script's output goes to the task log
line by line.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import hashlib
import inspect
import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.definitions.decorators import TaskDecorator
from airlock.definitions.xcom_arg import resolve_xcom_args
from airlock.exceptions import AirlockError, DagDefinitionError
from airlock.operators.python import PythonOperator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from airlock.definitions.context import Context

log = logging.getLogger(__name__)

_READY_MARKER = ".airlock-ready"
_SCRIPT = """\
import json, sys
{source}
with open(sys.argv[1]) as _f:
    _call = json.load(_f)
_result = {name}(*_call["args"], **_call["kwargs"])
with open(sys.argv[2], "w") as _f:
    json.dump(_result, _f)
"""


class VirtualenvError(AirlockError):
    """The virtualenv could not be built, or the function failed inside it."""


class PythonVirtualenvOperator(PythonOperator):
    """Run ``python_callable`` in a virtualenv with ``requirements`` installed.

    Args:
        python_callable: a self-contained function (imports inside its body).
        requirements: pip requirement strings to install.
        python_version: the Python to create the virtualenv with, e.g. ``"3.12"`` (runs
            ``python3.12``); the runner's own Python by default.
        system_site_packages: let the virtualenv see the base Python's packages.
        pip_install_options: extra ``pip install`` arguments.
        venv_cache_path: where virtualenvs are kept; ``$AIRLOCK_HOME/venvs`` by default.
        **kwargs: any argument of :class:`~airlock.operators.python.PythonOperator`.
    """

    template_fields: Sequence[str] = (*PythonOperator.template_fields, "requirements")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        requirements: str | Sequence[str] | None = None,
        python_version: str | None = None,
        system_site_packages: bool = True,
        pip_install_options: Sequence[str] | None = None,
        venv_cache_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(python_callable=python_callable, **kwargs)
        self.requirements = (
            [requirements] if isinstance(requirements, str) else list(requirements or ())
        )
        self.python_version = python_version
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or ())
        self.venv_cache_path = venv_cache_path

    def execute_callable(self, context: Context) -> Any:
        """Build (or reuse) the virtualenv and call the function inside it."""
        args = resolve_xcom_args(self.op_args, context)
        kwargs = resolve_xcom_args(self.op_kwargs, context)
        python = self._virtualenv() / "bin" / "python"
        return self._call_in(python, function_source(self.python_callable), args, kwargs)

    def _virtualenv(self) -> Path:
        settings = {
            "requirements": sorted(self.requirements),
            "python": self.python_version,
            "system_site_packages": self.system_site_packages,
            "pip": self.pip_install_options,
        }
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
        root = Path(self.venv_cache_path) if self.venv_cache_path else _default_cache()
        return ensure_virtualenv(root / digest, self)

    def _call_in(self, python: Path, source: tuple[str, str], args: Any, kwargs: Any) -> Any:
        code, name = source
        with tempfile.TemporaryDirectory(prefix="airlock-venv-call-") as folder:
            script, given, returned = (Path(folder) / n for n in ("task.py", "in.json", "out.json"))
            script.write_text(_SCRIPT.format(source=code, name=name))
            given.write_text(_json_arguments(self.task_id, args, kwargs))
            status = _stream([str(python), str(script), str(given), str(returned)])
            if status != 0:
                raise VirtualenvError(
                    f"task {self.task_id!r}: the function failed in its virtualenv (exit code "
                    f"{status}); its traceback is in the task log above"
                )
            return json.loads(returned.read_text()) if returned.exists() else None


def ensure_virtualenv(path: Path, operator: PythonVirtualenvOperator) -> Path:
    """Return ``path`` holding a ready virtualenv for ``operator``, building it if needed."""
    if (path / _READY_MARKER).exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_suffix(".lock")):
        if (path / _READY_MARKER).exists():
            return path
        _build(path, operator)
        (path / _READY_MARKER).touch()
    return path


def _build(path: Path, operator: PythonVirtualenvOperator) -> None:
    python = f"python{operator.python_version}" if operator.python_version else sys.executable
    command = [python, "-m", "venv", "--clear", str(path)]
    if operator.system_site_packages:
        command.append("--system-site-packages")
    if not operator.requirements:
        command.append("--without-pip")
    log.info("Creating the virtualenv %s", path)
    if _stream(command) != 0:
        raise VirtualenvError(f"task {operator.task_id!r}: `{' '.join(command)}` failed")
    if operator.requirements:
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", *operator.pip_install_options]
        if _stream([*pip, *operator.requirements]) != 0:
            raise VirtualenvError(
                f"task {operator.task_id!r}: pip could not install {operator.requirements}"
            )


def function_source(function: Callable[..., Any]) -> tuple[str, str]:
    """Return the source of ``function`` without its decorators, and its name.

    Raises:
        DagDefinitionError: the source cannot be found (a lambda, or a function made at runtime).
    """
    name = getattr(function, "__name__", "")
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError) as exc:
        raise DagDefinitionError(
            f"the source of {name or function!r} cannot be read ({exc}); a virtualenv task "
            "needs a function defined with def in a file"
        ) from None
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not defs or name == "<lambda>":
        raise DagDefinitionError(f"{name!r}: a virtualenv task needs a function defined with def")
    defs[0].decorator_list = []
    return ast.unparse(defs[0]), defs[0].name


def _json_arguments(task_id: str, args: Any, kwargs: Any) -> str:
    try:
        return json.dumps({"args": list(args), "kwargs": dict(kwargs)})
    except TypeError as exc:
        raise VirtualenvError(
            f"task {task_id!r}: the arguments of a virtualenv task must be JSON data: {exc}"
        ) from None


def _stream(command: list[str]) -> int:
    """Run ``command``, logging each line of its output as it comes; return its exit status."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None  # noqa: S101 -- stdout=PIPE above
        for raw in iter(process.stdout.readline, b""):
            log.info("%s", raw.decode(errors="backslashreplace").rstrip("\n"))
        return process.wait()


def _default_cache() -> Path:
    home = os.environ.get("AIRLOCK_HOME") or str(Path.cwd() / ".airlock")
    return Path(home) / "venvs"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class DecoratedVirtualenvOperator(PythonVirtualenvOperator):
    """The operator behind a ``@task.virtualenv`` function."""

    custom_operator_name = "@task.virtualenv"


class VirtualenvTaskDecorator(TaskDecorator):
    """A function decorated with ``@task.virtualenv``."""

    operator_class = DecoratedVirtualenvOperator
