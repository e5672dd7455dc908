"""airlock's settings: one frozen object, read once from ``AIRLOCK_*`` environment variables.

Only the standard library is imported here: the task runner reads its limits from this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from airlock.exceptions import ConfigError

ENV_PREFIX = "AIRLOCK_"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{ENV_PREFIX}{name}={raw!r} must be greater than zero")
    return value


def _env_int(name: str, default: int) -> int:
    value = _env_float(name, default)
    if value != int(value):
        raise ConfigError(f"{ENV_PREFIX}{name}={value!r} must be a whole number")
    return int(value)


def _default_home() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "HOME") or Path.cwd() / ".airlock")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every tunable of airlock, with its default.

    Attributes:
        home: the state folder (databases, logs, keys); ``AIRLOCK_HOME``, default ``./.airlock``.
        database_url: SQLAlchemy URL; ``AIRLOCK_DATABASE_URL``, default a SQLite file in home.
        heartbeat_interval: seconds between a supervisor's heartbeats for one task instance.
        token_lifetime: seconds an execution token is valid; it is refreshed well before expiry.
        workload_token_lifetime: seconds a workload token (queued, not started) is valid.
        kill_grace_period: seconds between SIGTERM and SIGKILL when a runner must stop.
        api_timeout: seconds before one Execution API request times out.
        api_retries: attempts for an Execution API request that meets a connection error or 5xx.
        max_frame_bytes: the largest runner<->supervisor frame body accepted.
        xcom_max_bytes: the largest XCom value (as JSON) a task may store.
    """

    home: Path = field(default_factory=_default_home)
    database_url: str | None = None
    heartbeat_interval: float = 5.0
    token_lifetime: float = 600.0
    workload_token_lifetime: float = 3600.0
    kill_grace_period: float = 5.0
    api_timeout: float = 10.0
    api_retries: int = 5
    max_frame_bytes: int = 64 * 1024 * 1024
    xcom_max_bytes: int = 48 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.xcom_max_bytes >= self.max_frame_bytes:
            raise ConfigError(
                f"xcom_max_bytes ({self.xcom_max_bytes}) must be below max_frame_bytes "
                f"({self.max_frame_bytes}) so that an XCom always fits in a frame"
            )

    @property
    def logs_folder(self) -> Path:
        """Where task logs go: ``<home>/logs``."""
        return self.home / "logs"

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from ``AIRLOCK_*`` environment variables."""
        defaults = cls()
        return cls(
            home=_default_home(),
            database_url=os.environ.get(ENV_PREFIX + "DATABASE_URL") or None,
            heartbeat_interval=_env_float("HEARTBEAT_INTERVAL", defaults.heartbeat_interval),
            token_lifetime=_env_float("TOKEN_LIFETIME", defaults.token_lifetime),
            workload_token_lifetime=_env_float(
                "WORKLOAD_TOKEN_LIFETIME", defaults.workload_token_lifetime
            ),
            kill_grace_period=_env_float("KILL_GRACE_PERIOD", defaults.kill_grace_period),
            api_timeout=_env_float("API_TIMEOUT", defaults.api_timeout),
            api_retries=_env_int("API_RETRIES", defaults.api_retries),
            max_frame_bytes=_env_int("MAX_FRAME_BYTES", defaults.max_frame_bytes),
            xcom_max_bytes=_env_int("XCOM_MAX_BYTES", defaults.xcom_max_bytes),
        )
