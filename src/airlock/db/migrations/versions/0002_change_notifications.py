"""Change notifications on PostgreSQL: the scheduler and waiting workers learn of work at once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Statement-level triggers send ``NOTIFY airlock_changes`` when a statement inserts or deletes
DAG runs or task instances, changes their ``state``, or changes a DAG's ``is_paused``
(:mod:`airlock.db.changes` listens). Notifications are sent at commit, once per transaction
and table. SQLite needs nothing: its ``data_version`` counter serves the same purpose.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_WATCHED = {
    "dag_run": "INSERT OR DELETE OR UPDATE OF state",
    "task_instance": "INSERT OR DELETE OR UPDATE OF state",
    "dag": "UPDATE OF is_paused",
}


def upgrade() -> None:
    """Create the notifying function and its triggers (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION airlock_notify_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('airlock_changes', TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table, events in _WATCHED.items():
        op.execute(
            f"CREATE TRIGGER airlock_notify_{table} AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION airlock_notify_change()"
        )


def downgrade() -> None:
    """Drop the triggers and their function."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS airlock_notify_{table} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS airlock_notify_change()")
