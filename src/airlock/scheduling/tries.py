"""Ending, archiving and renewing task instance tries from the control plane.

A try is identified by the task instance row's id; tokens name that id. Whenever the control
plane takes a try away from whoever holds it (its heartbeat stopped, it was queued too long, an
operator cleared it, its worker handed it back), the row gets a **new id**, so every token of the
old try stops working at once: the old supervisor's next call is refused and it stops its runner.
Tries that ran are first copied to ``task_instance_history``.

Every change here is conditional on what the caller saw (state, heartbeat, queued time), so two
schedulers, or a scheduler and the API, cannot both act on the same try.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, literal, select, update

from airlock.db.models import TaskInstance, TaskInstanceHistory

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_COPIED_COLUMNS = [column.name for column in TaskInstance.__table__.columns]


def new_try_id() -> str:
    """A fresh id for a task instance try."""
    return str(uuid.uuid4())


def archive(session: Session, ti_id: str, **overrides: Any) -> None:
    """Copy the try ``ti_id`` to ``task_instance_history``, with some columns overridden."""
    live = TaskInstance.__table__
    columns = [
        live.c[name] if name not in overrides else _literal(overrides[name], live.c[name])
        for name in _COPIED_COLUMNS
    ]
    statement = insert(TaskInstanceHistory).from_select(
        _COPIED_COLUMNS, select(*columns).where(live.c.id == ti_id)
    )
    session.connection().execute(statement)


def renew(session: Session, ti_id: str, **values: Any) -> str:
    """Give the row of try ``ti_id`` a new id (and ``values``); return the new id."""
    new_id = new_try_id()
    session.connection().execute(
        update(TaskInstance).where(TaskInstance.id == ti_id).values(id=new_id, **values)
    )
    return new_id


def conditional_update(session: Session, ti_id: str, where: dict[str, Any], **values: Any) -> bool:
    """Update try ``ti_id`` only if its columns still hold ``where``; return whether it did."""
    conditions = [TaskInstance.id == ti_id]
    for name, expected in where.items():
        column = getattr(TaskInstance, name)
        conditions.append(column.is_(None) if expected is None else column == expected)
    result = session.connection().execute(update(TaskInstance).where(*conditions).values(**values))
    return result.rowcount == 1


def _literal(value: Any, column: Any) -> Any:
    return literal(value, type_=column.type)
