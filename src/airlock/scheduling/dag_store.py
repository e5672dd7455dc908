"""The DAGs the scheduler knows: their rows, serialized structure and parse errors in the DB.

A parsed file's DAGs are written to ``dag`` (scheduling state; ``is_paused`` is kept across
parses) and ``serialized_dag`` (the msgpack of ``SerializedDag``, rewritten only when its hash
changed). A file that fails to parse gets an ``import_error`` row and its DAGs keep their last
good version; a DAG that disappeared from its file is marked inactive. Every write is an
``INSERT ... ON CONFLICT`` so two schedulers parsing the same folder never collide.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from airlock.db.models import DagModel, ParseImportError, SerializedDagModel
from airlock.definitions.serialized import ParseError, ParseResult, SerializedDag
from airlock.exceptions import DagDefinitionError
from airlock.scheduling.timetables import timetable_for

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SerializedDag)
_cache: dict[tuple[str, str], SerializedDag] = {}


def encode_dag(dag: SerializedDag) -> tuple[bytes, str]:
    """Return the stored form of ``dag`` and its SHA-256 hash."""
    data = _encoder.encode(dag)
    return data, hashlib.sha256(data).hexdigest()


def store_parse_result(session: Session, result: ParseResult, now: datetime) -> None:
    """Record what parsing one file gave: its DAGs, or its error."""
    error = result.error or _schedule_error(result)
    if error is not None:
        record_import_error(session, error, now)
        return
    session.execute(delete(ParseImportError).where(ParseImportError.filename == result.path))
    for dag in result.dags:
        _store_dag(session, dag, now)
    defined = [dag.dag_id for dag in result.dags]
    session.execute(
        update(DagModel)
        .where(DagModel.fileloc == result.path, DagModel.dag_id.not_in(defined))
        .values(is_active=False)
    )


def record_import_error(session: Session, error: ParseError, now: datetime) -> None:
    """Store (or replace) the parse error of a file."""
    values = {
        "filename": error.path,
        "line": error.line,
        "message": error.message,
        "timestamp": now,
    }
    _upsert(session, ParseImportError, values, key="filename", update=list(values))


def forget_file(session: Session, path: str) -> None:
    """A file left the DAGs folder: drop its error and mark its DAGs inactive."""
    session.execute(delete(ParseImportError).where(ParseImportError.filename == path))
    session.execute(update(DagModel).where(DagModel.fileloc == path).values(is_active=False))


def load_dag(session: Session, dag_id: str) -> SerializedDag | None:
    """Return the stored structure of ``dag_id`` (decoded once per version), or ``None``."""
    where = SerializedDagModel.dag_id == dag_id
    data_hash = session.scalar(select(SerializedDagModel.data_hash).where(where))
    if data_hash is None:
        return None
    key = (dag_id, data_hash)
    if key in _cache:
        return _cache[key]
    # a version not seen yet: read the (possibly large) document with the hash it has now
    row = session.execute(
        select(SerializedDagModel.data_hash, SerializedDagModel.data).where(where)
    ).one_or_none()
    if row is None:
        return None
    dag = _cache[(dag_id, row.data_hash)] = _decoder.decode(row.data)
    return dag


def _schedule_error(result: ParseResult) -> ParseError | None:
    for dag in result.dags:
        try:
            timetable_for(dag.schedule)
        except DagDefinitionError as exc:
            return ParseError(path=result.path, line=None, message=f"DAG {dag.dag_id!r}: {exc}")
    return None


def _store_dag(session: Session, dag: SerializedDag, now: datetime) -> None:
    values: dict[str, Any] = {
        "dag_id": dag.dag_id,
        "fileloc": dag.fileloc,
        "is_active": True,
        "schedule": _schedule_text(dag.schedule),
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "description": dag.description,
        "last_parsed_at": now,
    }
    changing = list(values)
    values["is_paused"] = bool(dag.is_paused_upon_creation)
    _upsert(session, DagModel, values, key="dag_id", update=changing)
    data, data_hash = encode_dag(dag)
    stored = session.scalar(
        select(SerializedDagModel.data_hash).where(SerializedDagModel.dag_id == dag.dag_id)
    )
    if stored != data_hash:
        row = {"dag_id": dag.dag_id, "data": data, "data_hash": data_hash, "updated_at": now}
        _upsert(session, SerializedDagModel, row, key="dag_id", update=list(row))


def _schedule_text(schedule: str | float | None) -> str | None:
    if schedule is None or isinstance(schedule, str):
        return schedule
    return f"{schedule:g}s"


def _upsert(
    session: Session, model: type[Any], values: dict[str, Any], *, key: str, update: list[str]
) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(values)
    changed = {name: statement.excluded[name] for name in update if name != key}
    session.execute(statement.on_conflict_do_update(index_elements=[key], set_=changed))
