"""Fixtures for the database tests: a SQLite file per test, and PostgreSQL when reachable."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from sqlalchemy import text

from airlock.db.engine import create_db_engine

POSTGRES_URL = os.environ.get(
    "AIRLOCK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """The URL of a SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'airlock.db'}"


@pytest.fixture
def engine(sqlite_url):
    """An engine on a fresh, empty SQLite file."""
    engine = create_db_engine(sqlite_url)
    yield engine
    engine.dispose()


def _require_postgres() -> None:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)


@pytest.fixture
def postgres_engine():
    """An engine whose search_path is a fresh schema, dropped afterwards."""
    _require_postgres()
    schema = f"airlock_test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_db_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
