"""Insert a row, or update it in place when its key is taken: one statement, no race."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase, Session


def upsert(
    session: Session, model: type[DeclarativeBase], values: dict[str, Any], key: tuple[str, ...]
) -> None:
    """Insert ``values`` into ``model``'s table, or overwrite the row with the same ``key``.

    Args:
        session: the session whose transaction the statement joins.
        model: the mapped class.
        values: every column to write.
        key: the columns of the primary key or unique constraint that identify the row.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(values)
    changed = {name: statement.excluded[name] for name in values if name not in key}
    session.connection().execute(
        statement.on_conflict_do_update(index_elements=list(key), set_=changed)
    )
