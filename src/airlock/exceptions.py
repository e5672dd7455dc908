"""Every error airlock raises, and the exceptions task code raises to steer its outcome.

The tree::

    AirlockError
    ├── DagDefinitionError          a DAG or task is defined wrongly
    │   ├── DuplicateTaskIdError
    │   ├── CycleError
    │   └── DagFileError            a DAG file cannot be imported (names file and line)
    ├── ProtocolError               a runner<->supervisor frame is malformed
    ├── TaskRuntimeError            a request made by task code was refused
    │   ├── VariableNotFoundError
    │   ├── ConnectionNotFoundError
    │   └── XComError               a value cannot be stored or read as XCom
    ├── ApiError                    the Execution API answered with an error
    │   └── ApiConflictError             409: a stale or duplicate state change
    └── ConfigError                 a setting has a bad value

    TaskControlException            raised by task code to choose its outcome
    ├── AirlockSkipException        end the task as skipped
    ├── AirlockFailException        fail now, without retrying
    ├── AirlockTaskTimeout          the task ran past its execution_timeout (retryable)
    └── AirlockTaskTerminated       the supervisor stopped the task (SIGTERM)
"""

from __future__ import annotations


class AirlockError(Exception):
    """Base class of the errors airlock raises."""


class DagDefinitionError(AirlockError):
    """A DAG or one of its tasks is defined wrongly."""


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks in one DAG share a task id."""

    def __init__(self, task_id: str, dag_id: str) -> None:
        super().__init__(f"task id {task_id!r} is already used in DAG {dag_id!r}")
        self.task_id = task_id
        self.dag_id = dag_id


class CycleError(DagDefinitionError):
    """The dependencies of a DAG form a cycle."""

    def __init__(self, dag_id: str, cycle: list[str]) -> None:
        path = " -> ".join(cycle)
        super().__init__(f"DAG {dag_id!r} has a cycle: {path}")
        self.dag_id = dag_id
        self.cycle = cycle


class DagFileError(DagDefinitionError):
    """A DAG file failed to import or holds an invalid DAG; names the file and line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


class ProtocolError(AirlockError):
    """A frame between runner and supervisor is too long, truncated, or not a known message."""


class TaskRuntimeError(AirlockError):
    """A request made by running task code was refused by the supervisor or the API."""


class VariableNotFoundError(TaskRuntimeError, KeyError):
    """No Variable has the key asked for."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Variable {key!r} does not exist")
        self.key = key

    def __str__(self) -> str:
        return str(self.args[0])


class ConnectionNotFoundError(TaskRuntimeError, KeyError):
    """No Connection has the id asked for."""

    def __init__(self, conn_id: str) -> None:
        super().__init__(f"Connection {conn_id!r} is not defined")
        self.conn_id = conn_id

    def __str__(self) -> str:
        return str(self.args[0])


class XComError(TaskRuntimeError):
    """A value cannot be stored or read as XCom."""


class ApiError(AirlockError):
    """The Execution API answered with an error status."""

    def __init__(self, status_code: int, reason: str, message: str) -> None:
        super().__init__(f"{status_code} {reason}: {message}")
        self.status_code = status_code
        self.reason = reason
        self.message = message


class ApiConflictError(ApiError):
    """The Execution API refused a stale or duplicate state change (409)."""


class ConfigError(AirlockError):
    """A setting has a value airlock cannot use."""


class TaskControlException(BaseException):
    """Base of the exceptions task code raises to choose its outcome.

    They derive from ``BaseException`` so that ``except Exception`` in user code does not
    swallow them by accident.
    """


class AirlockSkipException(TaskControlException):
    """Raised by task code to end the task instance as skipped."""


class AirlockFailException(TaskControlException):
    """Raised by task code to fail the task instance at once, without retries."""


class AirlockTaskTimeout(TaskControlException):
    """Raised inside a task that ran past its ``execution_timeout``; retries apply."""


class AirlockTaskTerminated(TaskControlException):
    """Raised inside a task whose supervisor stopped it (SIGTERM); retries apply."""
