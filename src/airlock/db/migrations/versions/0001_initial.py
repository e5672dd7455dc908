"""The initial schema: DAG runs, task instances and their history, XComs, Variables, Connections.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24

Constraint names follow the naming convention of ``airlock.db.models`` (``op.f`` marks them as
final), so later revisions can alter them by name on every backend.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID_LENGTH = 250


def _timestamp(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _dag_run_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["dag_id", "run_id"],
        ["dag_run.dag_id", "dag_run.run_id"],
        name=op.f(f"fk_{table}_dag_id_dag_run"),
        ondelete="CASCADE",
    )


def _task_instance_columns() -> list[sa.Column[object]]:
    """The columns shared by ``task_instance`` and ``task_instance_history``."""
    return [
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dag_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("run_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("task_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column("operator", sa.String(ID_LENGTH), nullable=True),
        sa.Column("queue", sa.String(ID_LENGTH), nullable=False),
        sa.Column("pool", sa.String(ID_LENGTH), nullable=False),
        sa.Column("hostname", sa.String(ID_LENGTH), nullable=True),
        sa.Column("unixname", sa.String(ID_LENGTH), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        _timestamp("queued_at"),
        _timestamp("start_date"),
        _timestamp("end_date"),
        _timestamp("last_heartbeat_at"),
        _timestamp("next_retry_at"),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        _timestamp("updated_at", nullable=False),
        sa.Column("pool_slots", sa.Integer(), nullable=False),
        sa.Column("priority_weight", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(ID_LENGTH), nullable=True),
        _timestamp("claimed_at"),
    ]


def _create_dag_run() -> None:
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("run_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("run_type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        _timestamp("logical_date"),
        _timestamp("data_interval_start"),
        _timestamp("data_interval_end"),
        sa.Column("conf", sa.JSON(), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("start_date"),
        _timestamp("end_date"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_run")),
        sa.UniqueConstraint("dag_id", "run_id", name=op.f("uq_dag_run_dag_id_run_id")),
    )


def _create_task_instance() -> None:
    op.create_table(
        "task_instance",
        *_task_instance_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance")),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            name=op.f("uq_task_instance_dag_id_run_id_task_id_map_index"),
        ),
        _dag_run_key("task_instance"),
    )
    op.create_index("ix_task_instance_state", "task_instance", ["state"])
    op.create_index("ix_task_instance_pool_state", "task_instance", ["pool", "state"])


def _create_task_instance_history() -> None:
    op.create_table(
        "task_instance_history",
        *_task_instance_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance_history")),
        _dag_run_key("task_instance_history"),
    )
    op.create_index(
        "ix_task_instance_history_key",
        "task_instance_history",
        ["dag_id", "run_id", "task_id", "map_index"],
    )


def _create_xcom() -> None:
    op.create_table(
        "xcom",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("run_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("task_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xcom")),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            "key",
            name=op.f("uq_xcom_dag_id_run_id_task_id_map_index_key"),
        ),
        _dag_run_key("xcom"),
    )


def _create_variable() -> None:
    op.create_table(
        "variable",
        sa.Column("key", sa.String(ID_LENGTH), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_variable")),
    )


def _create_connection() -> None:
    op.create_table(
        "connection",
        sa.Column("conn_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("conn_type", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("host", sa.String(500), nullable=True),
        sa.Column("schema", sa.String(500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("conn_id", name=op.f("pk_connection")),
    )


def _create_deployment_tables() -> None:
    """The scheduler's tables: known DAGs, their serialized form, parse errors, pools."""
    op.create_table(
        "dag",
        sa.Column("dag_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("schedule", sa.String(ID_LENGTH), nullable=True),
        sa.Column("max_active_runs", sa.Integer(), nullable=False),
        sa.Column("max_active_tasks", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _timestamp("next_dagrun_logical_date"),
        _timestamp("next_dagrun_data_interval_start"),
        _timestamp("next_dagrun_data_interval_end"),
        _timestamp("next_dagrun_create_after"),
        _timestamp("last_parsed_at"),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_dag")),
    )
    op.create_table(
        "serialized_dag",
        sa.Column("dag_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_serialized_dag")),
    )
    op.create_table(
        "import_error",
        sa.Column("filename", sa.String(1000), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        _timestamp("timestamp", nullable=False),
        sa.PrimaryKeyConstraint("filename", name=op.f("pk_import_error")),
    )
    op.create_table(
        "pool",
        sa.Column("name", sa.String(ID_LENGTH), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pool")),
    )


def _create_rendered_fields() -> None:
    """The rendered template fields of each try."""
    op.create_table(
        "rendered_task_instance_fields",
        sa.Column("ti_id", sa.String(36), nullable=False),
        sa.Column("dag_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("run_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("task_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("rendered_fields", sa.JSON(), nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("ti_id", name=op.f("pk_rendered_task_instance_fields")),
        _dag_run_key("rendered_task_instance_fields"),
    )
    op.create_index(
        "ix_rendered_task_instance_fields_key",
        "rendered_task_instance_fields",
        ["dag_id", "run_id", "task_id", "map_index"],
    )


def upgrade() -> None:
    """Create every table."""
    _create_dag_run()
    _create_task_instance()
    _create_task_instance_history()
    _create_xcom()
    _create_variable()
    _create_connection()
    _create_rendered_fields()
    _create_deployment_tables()


def downgrade() -> None:
    """Drop every table, children before the DAG runs they refer to."""
    op.drop_index(
        "ix_rendered_task_instance_fields_key", table_name="rendered_task_instance_fields"
    )
    op.drop_table("rendered_task_instance_fields")
    for table in ("pool", "import_error", "serialized_dag", "dag"):
        op.drop_table(table)
    op.drop_table("connection")
    op.drop_table("variable")
    op.drop_table("xcom")
    op.drop_index("ix_task_instance_history_key", table_name="task_instance_history")
    op.drop_table("task_instance_history")
    op.drop_index("ix_task_instance_pool_state", table_name="task_instance")
    op.drop_index("ix_task_instance_state", table_name="task_instance")
    op.drop_table("task_instance")
    op.drop_table("dag_run")
