"""BashOperator (``@task.bash``): run a shell command, streaming its output to the task log.

The command runs as ``bash -c COMMAND`` in ``cwd`` (a fresh temporary folder by default), with
``env`` as its environment (the runner's own when None; ``append_env`` adds ``env`` to it) plus
the ``AIRFLOW_CTX_*`` variables. Each line it prints goes to the task log as it comes; the last
line is the task's return value (its XCom). A non-zero exit fails the task, naming the code;
an exit code in ``skip_on_exit_code`` (99 by default) skips it. The child stays in the runner's
process group, so when the supervisor stops the task it stops the command and its children too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.definitions.baseoperator import BaseOperator
from airlock.definitions.decorators import TaskDecorator
from airlock.definitions.xcom_arg import resolve_xcom_args
from airlock.exceptions import AirlockError, AirlockSkipException, DagDefinitionError
from airlock.execution.context_values import context_env_vars
from airlock.operators.python import inject_context

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterator, Sequence

    from airlock.definitions.context import Context

log = logging.getLogger(__name__)

DEFAULT_SKIP_EXIT_CODE = 99


class BashCommandError(AirlockError):
    """A bash command exited with a non-zero code (not one of ``skip_on_exit_code``)."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(
            f"Bash command failed. The command returned a non-zero exit code {exit_code}."
        )
        self.exit_code = exit_code


class BashOperator(BaseOperator):
    """Run a bash command; its last line of output is the return value.

    Args:
        bash_command: the command, a template (or the name of a ``.sh``/``.bash`` template file).
        env: the command's environment (templated); None means the runner's environment.
        append_env: add ``env`` to the runner's environment instead of replacing it.
        output_encoding: how the command's output is decoded.
        skip_on_exit_code: exit code(s) that skip the task instead of failing it (99 by
            default; None for none).
        cwd: the folder to run in (templated); a new temporary folder when None.
        output_processor: turns the last line of output into the return value.
        **kwargs: any argument of :class:`~airlock.definitions.baseoperator.BaseOperator`.
    """

    template_fields: Sequence[str] = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}  # noqa: RUF012 -- Airflow's public class attribute
    template_ext: Sequence[str] = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str | Any,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = DEFAULT_SKIP_EXIT_CODE,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] = lambda result: result,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        self.skip_on_exit_code = _as_codes(skip_on_exit_code)
        self.cwd = cwd
        self.output_processor = output_processor
        self._process: subprocess.Popen[bytes] | None = None

    def execute(self, context: Context) -> Any:
        """Run the command and return its processed last line of output.

        Raises:
            AirlockSkipException: the command exited with a code in ``skip_on_exit_code``.
            BashCommandError: the command exited with another non-zero code.
            DagDefinitionError: the command is empty, or ``cwd`` is not a folder.
        """
        command = self._checked_command()
        env = self._environment(context)
        with _working_folder(self.cwd) as cwd:
            exit_code, last_line = self._run(command, env, cwd)
        if exit_code in self.skip_on_exit_code:
            raise AirlockSkipException(f"Bash command returned exit code {exit_code}. Skipping.")
        if exit_code != 0:
            raise BashCommandError(exit_code)
        return self.output_processor(last_line)

    def on_kill(self) -> None:
        """Stop the command (SIGTERM) when the task is stopped."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)

    def _checked_command(self) -> str:
        command = self.bash_command
        if not isinstance(command, str) or not command.strip():
            raise DagDefinitionError(
                f"task {self.task_id!r}: bash_command must be a non-empty string, not {command!r}"
            )
        return command

    def _environment(self, context: Context) -> dict[str, str]:
        if self.env is None:
            env = dict(os.environ)
        elif self.append_env:
            env = {**os.environ, **self.env}
        else:
            env = dict(self.env)
        env.update(context_env_vars(dict(_context_for_env(context))))
        return env

    def _run(self, command: str, env: dict[str, str], cwd: str) -> tuple[int, str]:
        log.info("Running command: %s", ["bash", "-c", command])
        self._process = subprocess.Popen(
            ["bash", "-c", command],  # noqa: S607 -- bash from PATH, as Airflow runs it
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        last_line = ""
        for line in _lines(self._process, self.output_encoding):
            last_line = line
            log.info("%s", line)
        exit_code = self._process.wait()
        log.info("Command exited with return code %s", exit_code)
        return exit_code, last_line


def _lines(process: subprocess.Popen[bytes], encoding: str) -> Iterator[str]:
    assert process.stdout is not None  # noqa: S101 -- stdout=PIPE above
    for raw in iter(process.stdout.readline, b""):
        yield raw.decode(encoding, errors="backslashreplace").rstrip("\n")
    process.stdout.close()


def _context_for_env(context: Context) -> Iterator[tuple[str, Any]]:
    for key in ("task", "ti", "logical_date"):
        if key in context:
            yield key, context[key]


@contextlib.contextmanager
def _working_folder(cwd: str | None) -> Iterator[str]:
    if cwd is None:
        with tempfile.TemporaryDirectory(prefix="airlocktmp") as folder:
            yield folder
        return
    path = Path(cwd)
    if not path.exists():
        raise DagDefinitionError(f"Can not find the cwd: {cwd}")
    if not path.is_dir():
        raise DagDefinitionError(f"The cwd {cwd} must be a directory")
    yield cwd


def _as_codes(value: int | Container[int] | None) -> Container[int]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return value


class DecoratedBashOperator(BashOperator):
    """The operator behind a ``@task.bash`` function: the function returns the command.

    Args:
        python_callable: returns the bash command (a non-empty string, rendered as a template).
        op_args: positional arguments for it.
        op_kwargs: keyword arguments for it.
        **kwargs: any argument of :class:`BashOperator` but ``bash_command``.
    """

    custom_operator_name = "@task.bash"
    template_fields: Sequence[str] = (*BashOperator.template_fields, "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # multiple_outputs stays: an output_processor may turn the last line into a dict.
        super().__init__(bash_command=None, **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or ())
        self.op_kwargs = dict(op_kwargs or {})

    def execute(self, context: Context) -> Any:
        """Call the function for the command, render it, and run it.

        Raises:
            TypeError: the function did not return a non-empty string.
        """
        args = resolve_xcom_args(self.op_args, context)
        kwargs = resolve_xcom_args(self.op_kwargs, context)
        command = self.python_callable(
            *args, **inject_context(self.python_callable, args, kwargs, context)
        )
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                f"task {self.task_id!r}: the @task.bash function must return a non-empty string "
                f"(the command), not {command!r}"
            )
        self.bash_command = self.render_template(command, context)
        return super().execute(context)


class BashTaskDecorator(TaskDecorator):
    """A function decorated with ``@task.bash``."""

    operator_class = DecoratedBashOperator
