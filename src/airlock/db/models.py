"""SQLAlchemy models of everything airlock stores.

A task instance row holds its *current* try. Each try has its own id (a UUID): when a try ends
up_for_retry the row is archived to ``task_instance_history`` and given a fresh id for the next
try, so a token minted for an earlier try (``sub`` = that try's id) can never touch a later one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from airlock.api.models import TaskInstanceKey

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

ID_LENGTH = 250


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware datetimes as UTC; refuse naive ones, whose zone would be a guess."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored: give it a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 -- TypeDecorator signature
    ) -> datetime | None:
        """Return aware UTC datetimes."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention (Alembic relies on it)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012 -- SQLAlchemy's API


class DagRun(Base):
    """One run of a DAG."""

    __tablename__ = "dag_run"
    __table_args__ = (UniqueConstraint("dag_id", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    run_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    run_type: Mapped[str] = mapped_column(String(32), default="manual")
    state: Mapped[str] = mapped_column(String(20))
    logical_date: Mapped[datetime | None]
    data_interval_start: Mapped[datetime | None]
    data_interval_end: Mapped[datetime | None]
    conf: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]


class _TaskInstanceColumns:
    """Columns shared by the live task instance table and its history of earlier tries."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    run_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    map_index: Mapped[int] = mapped_column(default=-1)
    try_number: Mapped[int] = mapped_column(default=0)
    max_tries: Mapped[int] = mapped_column(default=0)
    state: Mapped[str | None] = mapped_column(String(20))
    operator: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    queue: Mapped[str] = mapped_column(String(ID_LENGTH), default="default")
    pool: Mapped[str] = mapped_column(String(ID_LENGTH), default="default_pool")
    hostname: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    unixname: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    pid: Mapped[int | None]
    queued_at: Mapped[datetime | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    next_retry_at: Mapped[datetime | None]
    """When an up_for_retry task instance may be queued again."""
    failure_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    pool_slots: Mapped[int] = mapped_column(default=1)
    """Slots of its pool the try occupies while queued or running."""
    priority_weight: Mapped[int] = mapped_column(default=1)
    """Higher weights are queued first when slots are scarce."""
    claimed_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    """The worker that claimed the queued try (local executor), until it starts."""
    claimed_at: Mapped[datetime | None]


class TaskInstance(_TaskInstanceColumns, Base):
    """The current try of one task (or one mapped index of it) in one DAG run."""

    @property
    def key(self) -> TaskInstanceKey:
        """Who this try is: what a workload and the runner's context name it by."""
        return TaskInstanceKey(
            id=self.id,
            dag_id=self.dag_id,
            run_id=self.run_id,
            task_id=self.task_id,
            map_index=self.map_index,
            try_number=self.try_number,
        )

    __tablename__ = "task_instance"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
        Index("ix_task_instance_state", "state"),
        Index("ix_task_instance_pool_state", "pool", "state"),
    )


class TaskInstanceHistory(_TaskInstanceColumns, Base):
    """An earlier try of a task instance, archived when the try ended up_for_retry."""

    __tablename__ = "task_instance_history"
    __table_args__ = (
        Index("ix_task_instance_history_key", "dag_id", "run_id", "task_id", "map_index"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
    )


class XCom(Base):
    """A value a task instance pushed; ``value`` is JSON bytes as the runner encoded them."""

    __tablename__ = "xcom"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "key"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    run_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    map_index: Mapped[int] = mapped_column(default=-1)
    key: Mapped[str] = mapped_column(String(512))
    value: Mapped[bytes] = mapped_column(LargeBinary)
    length: Mapped[int | None]
    """How many items a list, tuple or dict value holds (what a mapped task expands over)."""
    created_at: Mapped[datetime]


class Variable(Base):
    """A key/value setting that tasks read."""

    __tablename__ = "variable"

    key: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)


class Connection(Base):
    """How to reach an external system."""

    __tablename__ = "connection"

    conn_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(500))
    schema: Mapped[str | None] = mapped_column(String(500))
    login: Mapped[str | None] = mapped_column(Text)
    password: Mapped[str | None] = mapped_column(Text)
    port: Mapped[int | None]
    extra: Mapped[str | None] = mapped_column(Text)


# -- Deployment: DAGs known to the scheduler, their parse errors, and pools. ------------------


class DagModel(Base):
    """A DAG the scheduler found in the DAGs folder, with its scheduling state."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether a file in the DAGs folder still defines the DAG."""
    schedule: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    """The schedule as written (cron string, preset, or seconds), for display."""
    max_active_runs: Mapped[int] = mapped_column(default=16)
    max_active_tasks: Mapped[int] = mapped_column(default=16)
    description: Mapped[str | None] = mapped_column(Text)
    next_dagrun_logical_date: Mapped[datetime | None]
    next_dagrun_data_interval_start: Mapped[datetime | None]
    next_dagrun_data_interval_end: Mapped[datetime | None]
    next_dagrun_create_after: Mapped[datetime | None]
    last_parsed_at: Mapped[datetime | None]


class SerializedDagModel(Base):
    """The latest serialized form of a DAG (msgpack of ``SerializedDag``) and its hash."""

    __tablename__ = "serialized_dag"

    dag_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    data_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class ParseImportError(Base):
    """A DAG file that could not be parsed, and why."""

    __tablename__ = "import_error"

    filename: Mapped[str] = mapped_column(String(1000), primary_key=True)
    line: Mapped[int | None]
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime]


class Pool(Base):
    """A named limit on the slots that queued and running task instances occupy."""

    __tablename__ = "pool"

    name: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


# -- Authoring: the rendered template fields of each try. ------------------------------------


class RenderedTaskInstanceFields(Base):
    """The template fields of one try as rendered before ``execute``, secrets masked."""

    __tablename__ = "rendered_task_instance_fields"
    __table_args__ = (
        Index("ix_rendered_task_instance_fields_key", "dag_id", "run_id", "task_id", "map_index"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
    )

    ti_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """The try's id (a task instance row's id while that try was current)."""
    dag_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    run_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    map_index: Mapped[int] = mapped_column(default=-1)
    try_number: Mapped[int]
    rendered_fields: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
