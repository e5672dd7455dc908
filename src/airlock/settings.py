"""airlock's settings: one frozen object, read from ``airlock.toml`` and ``AIRLOCK_*`` variables.

Every field of :class:`Settings` is a setting. Its environment variable is ``AIRLOCK_`` plus the
field name in upper case (``heartbeat_timeout`` -> ``AIRLOCK_HEARTBEAT_TIMEOUT``); its key in
``airlock.toml`` is the field name. :meth:`Settings.load` reads the toml file (path from
``AIRLOCK_CONFIG``, else ``$AIRLOCK_HOME/airlock.toml``; it may be absent), then the environment,
which wins. :meth:`Settings.from_env` reads the environment only: the task runner uses it, and
never opens the toml file (which may hold the database password).

Only the standard library is imported here: the task runner reads its limits from this module.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from airlock.exceptions import ConfigError

ENV_PREFIX = "AIRLOCK_"
CONFIG_ENV = "AIRLOCK_CONFIG"
"""The variable naming the toml file to read (default ``$AIRLOCK_HOME/airlock.toml``)."""

ExecutorKind = Literal["local", "celery"]
"""How the scheduler hands queued tries to workers."""

_NON_NEGATIVE = frozenset({"default_pool_slots"})
"""Numeric settings that may be zero; every other number must be greater than zero."""


def _default_home() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "HOME") or Path.cwd() / ".airlock")


def _default_dags_folder() -> Path:
    return Path.cwd() / "dags"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every tunable of airlock, with its default (``docs/configuration.md`` lists them all).

    Attributes:
        home: the state folder (databases, logs, keys); default ``./.airlock``.
        database_url: SQLAlchemy URL; default the SQLite file ``<home>/airlock.db``.
        dags_folder: where the scheduler looks for DAG files; default ``./dags``.
        heartbeat_interval: seconds between a supervisor's heartbeats for one task instance.
        heartbeat_max_misses: heartbeats in a row that may fail (the API unreachable, timing
            out or answering 5xx) before the supervisor stops the try's runner. The API may be
            away for about ``heartbeat_max_misses`` x ``heartbeat_interval`` seconds without
            stopping any task: meanwhile the runner's requests wait for it, and a try's final
            report is retried until ``heartbeat_timeout``. That product must be shorter than
            ``heartbeat_timeout``, so a runner cut off from the API stops before the scheduler
            gives its try to another worker.
        token_lifetime: seconds an execution token is valid; it is refreshed well before expiry.
        workload_token_lifetime: seconds a workload token (queued, not started) is valid.
        kill_grace_period: seconds between SIGTERM and SIGKILL when a runner must stop.
        api_timeout: seconds before one Execution API request times out.
        api_retries: attempts for an Execution API request that meets a connection error or 5xx.
        max_frame_bytes: the largest runner<->supervisor frame body accepted.
        xcom_max_bytes: the largest XCom value (as JSON) a task may store.
        max_templated_field_length: the longest a rendered template field is stored (characters);
            longer values are cut, as Airflow's ``[core] max_templated_field_length`` does.
        max_map_length: the most task instances one mapped task may expand into (Airflow's
            ``[core] max_map_length``); a larger input fails the mapped task with a clear error.
        runner_start: ``fork`` (runners forked by a preloaded fork server, in milliseconds) or
            ``exec`` (a fresh interpreter per runner, for code that is not fork-safe).
        preload_dag_files: with ``fork``, import each DAG file once in the fork server so runners
            skip parsing it (imported again when the file changes).
        api_host: the address ``airlock api-server`` listens on.
        api_port: the port ``airlock api-server`` listens on.
        api_workers: uvicorn worker processes of ``airlock api-server``.
        api_base_url: how supervisors reach the API; default ``http://<api_host>:<api_port>``.
        jwt_secret_file: the token signing key's file; default ``<home>/jwt_secret``, created
            (mode 0600) on first use when absent.
        worker_token_file: the file holding a worker's credential (``airlock worker-token``).
        parsing_interval: seconds between two scans of the DAGs folder.
        parsing_timeout: seconds one DAG file may take to parse before it is stopped.
        parsing_processes: DAG files parsed at once.
        scheduler_loop_interval: the longest the scheduler waits between loops when one found
            nothing to do; a change in the database (a run triggered, a try reported) wakes it
            within milliseconds.
        heartbeat_timeout: seconds without a heartbeat before a running try is failed or retried.
        queued_timeout: seconds a try may stay queued without starting before it is requeued.
        executor: ``local`` (workers claim from the API) or ``celery``.
        parallelism: tries a local worker runs at once, by default.
        default_pool_slots: slots of ``default_pool`` when the scheduler first creates it.
        worker_poll_interval: the longest an idle local worker's wait for work
            (``GET /workloads/wait``) is held; a queued try wakes it within milliseconds.
        worker_shutdown_grace: seconds a stopping worker lets running tries finish.
        celery_broker_url: the Celery broker (Redis or RabbitMQ).
        celery_result_backend: Celery's result backend, if any (state goes through the API).
        celery_visibility_timeout: seconds before Redis hands an unacknowledged workload to
            another worker; must be longer than ``heartbeat_timeout``.
        runner_memory_limit: bytes of address space a runner may use (``RLIMIT_AS``); a task
            may ask for its own with ``executor_config={"memory_limit": ...}``; default none.
        default_run_as_user: the Unix user runners run as when a task sets no ``run_as_user``;
            default none (the supervisor's own user).
        max_log_bytes_per_try: bytes of a try's own output its log keeps; the rest is dropped
            and counted in a last line.
    """

    home: Path = field(default_factory=_default_home)
    database_url: str | None = field(default=None, repr=False)
    dags_folder: Path = field(default_factory=_default_dags_folder)
    heartbeat_interval: float = 5.0
    heartbeat_max_misses: int = 3
    token_lifetime: float = 600.0
    workload_token_lifetime: float = 3600.0
    kill_grace_period: float = 5.0
    api_timeout: float = 10.0
    api_retries: int = 5
    max_frame_bytes: int = 64 * 1024 * 1024
    xcom_max_bytes: int = 48 * 1024 * 1024
    max_templated_field_length: int = 4096
    max_map_length: int = 1024
    runner_start: str = "fork"
    preload_dag_files: bool = True
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_workers: int = 1
    api_base_url: str | None = None
    jwt_secret_file: Path | None = None
    worker_token_file: Path | None = None
    parsing_interval: float = 30.0
    parsing_timeout: float = 30.0
    parsing_processes: int = 2
    scheduler_loop_interval: float = 1.0
    heartbeat_timeout: float = 300.0
    queued_timeout: float = 600.0
    executor: ExecutorKind = "local"
    parallelism: int = 32
    default_pool_slots: int = 128
    worker_poll_interval: float = 5.0
    worker_shutdown_grace: float = 60.0
    celery_broker_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    celery_result_backend: str | None = field(default=None, repr=False)
    celery_visibility_timeout: float = 3600.0
    runner_memory_limit: int | None = None
    default_run_as_user: str | None = None
    max_log_bytes_per_try: int = 100 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.runner_start not in {"fork", "exec"}:
            raise ConfigError(f"runner_start={self.runner_start!r}: use 'fork' or 'exec'")
        if self.xcom_max_bytes >= self.max_frame_bytes:
            raise ConfigError(
                f"xcom_max_bytes ({self.xcom_max_bytes}) must be below max_frame_bytes "
                f"({self.max_frame_bytes}) so that an XCom always fits in a frame"
            )
        if self.executor not in get_args(ExecutorKind):
            raise ConfigError(
                f"executor={self.executor!r} is not known: use one of {get_args(ExecutorKind)}"
            )
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError(
                f"heartbeat_timeout ({self.heartbeat_timeout:g}s) must be longer than "
                f"heartbeat_interval ({self.heartbeat_interval:g}s)"
            )
        if self.heartbeat_outage_tolerance >= self.heartbeat_timeout:
            raise ConfigError(
                f"heartbeat_max_misses ({self.heartbeat_max_misses}) x heartbeat_interval "
                f"({self.heartbeat_interval:g}s) must be shorter than heartbeat_timeout "
                f"({self.heartbeat_timeout:g}s): a runner cut off from the API must stop "
                "before the scheduler retries its try elsewhere"
            )

    @property
    def heartbeat_outage_tolerance(self) -> float:
        """Seconds the API may be unreachable before supervisors stop their runners."""
        return self.heartbeat_max_misses * self.heartbeat_interval

    @property
    def logs_folder(self) -> Path:
        """Where task logs go: ``<home>/logs``."""
        return self.home / "logs"

    @property
    def sql_alchemy_url(self) -> str:
        """The database to use: ``database_url``, or the SQLite file ``<home>/airlock.db``."""
        return self.database_url or f"sqlite:///{self.home / 'airlock.db'}"

    @property
    def uses_default_database(self) -> bool:
        """Whether the database is the embedded SQLite default (no ``database_url`` given)."""
        return self.database_url is None

    @property
    def api_url(self) -> str:
        """The Execution API's root URL as supervisors reach it."""
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def signing_key_file(self) -> Path:
        """The token signing key's file: ``jwt_secret_file`` or ``<home>/jwt_secret``."""
        return self.jwt_secret_file or self.home / "jwt_secret"

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from ``AIRLOCK_*`` environment variables only (no toml file)."""
        return cls(**_from_mapping(_environment(), source="the environment"))

    @classmethod
    def load(cls, config_file: Path | None = None) -> Settings:
        """Read ``airlock.toml`` (if present), then the environment, which wins.

        Args:
            config_file: the toml file; default ``AIRLOCK_CONFIG``, else
                ``$AIRLOCK_HOME/airlock.toml``.

        Raises:
            ConfigError: the file is not valid toml, names an unknown key, or a value is wrong.
        """
        path = config_file or _config_path()
        values = _read_toml(path) if path.is_file() else {}
        if config_file is not None and not path.is_file():
            raise ConfigError(f"the configuration file {path} does not exist")
        values |= _from_mapping(_environment(), source="the environment")
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        """Return a copy with some settings changed (validated again)."""
        return replace(self, **changes)


def _config_path() -> Path:
    explicit = os.environ.get(CONFIG_ENV)
    return Path(explicit) if explicit else _default_home() / "airlock.toml"


def _environment() -> dict[str, str]:
    names = {f.name for f in fields(Settings)}
    found: dict[str, str] = {}
    for name in names:
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            found[name] = raw
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid toml: {exc}") from None
    known = [f.name for f in fields(Settings)]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path}: unknown setting {key!r}{hint}")
    return _from_mapping(data, source=str(path))


def _from_mapping(raw: dict[str, Any], *, source: str) -> dict[str, Any]:
    kinds = {f.name: str(f.type) for f in fields(Settings)}
    return {name: _convert(name, kinds[name], value, source) for name, value in raw.items()}


def _convert(name: str, kind: str, value: Any, source: str) -> Any:
    where = f"{name} = {value!r} (from {source})"
    if isinstance(value, str) and kind.endswith("| None") and value.lower() == "none":
        return None
    base = kind.removesuffix(" | None")
    if base in {"float", "int"}:
        return _number(name, base, value, where)
    if base == "Path":
        return Path(str(value)).expanduser()
    if base == "bool":
        return _boolean(value, where)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string")
    return value


def _number(name: str, base: str, value: Any, where: str) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: is not a number") from None
    if number < 0 or (number == 0 and name not in _NON_NEGATIVE):
        raise ConfigError(f"{where}: must be greater than zero")
    if base == "int":
        if number != int(number):
            raise ConfigError(f"{where}: must be a whole number")
        return int(number)
    return number


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{where}: must be true or false")
