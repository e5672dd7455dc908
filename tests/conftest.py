"""Fixtures shared by every test: a private airlock home, and real-service requirements."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import text

from airlock.db.engine import create_db_engine
from airlock.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "AIRLOCK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DB_BACKENDS = ("sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--db``: ``postgres`` (or ``AIRLOCK_TEST_DB=postgres``) puts fixtures on PostgreSQL."""
    parser.addoption(
        "--db",
        choices=DB_BACKENDS,
        default=os.environ.get("AIRLOCK_TEST_DB", "sqlite"),
        help="the database of the database-backed fixtures (default: sqlite, or AIRLOCK_TEST_DB)",
    )


def require_service(available: bool, what: str) -> None:
    """Skip when a real service is absent, except under CI=true where that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not reachable")
    pytest.skip(f"{what} is not reachable")


@pytest.fixture(autouse=True)
def _airlock_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state folder and never sees the developer's settings."""
    for key in list(os.environ):
        if key.startswith("AIRLOCK_"):
            monkeypatch.delenv(key)
    home = tmp_path / "airlock-home"
    monkeypatch.setenv("AIRLOCK_HOME", str(home))
    return home


@pytest.fixture
def fast_settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings with short intervals, so tests of timing behaviour finish quickly.

    Under ``--db postgres`` they point at a fresh PostgreSQL schema.
    """
    return Settings(
        home=tmp_path / "airlock-home",
        database_url=database_url,
        heartbeat_interval=0.2,
        kill_grace_period=1.0,
        api_retries=2,
    )


def postgres_available() -> bool:
    """Whether the test PostgreSQL server answers."""
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def fresh_postgres_schema() -> Iterator[str]:
    """Create a PostgreSQL schema, yield a URL whose search_path is it, and drop it afterwards."""
    require_service(postgres_available(), f"PostgreSQL at {POSTGRES_URL}")
    schema = f"airlock_test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """The backend the database-backed fixtures use: ``sqlite`` or ``postgres`` (``--db``)."""
    return str(request.config.getoption("--db"))


@pytest.fixture
def database_url(db_backend: str, tmp_path: Path) -> Iterator[str | None]:
    """A fresh database: ``None`` (each run makes a SQLite file), or a PostgreSQL schema.

    It is PostgreSQL under ``--db postgres``.
    """
    if db_backend == "postgres":
        yield from fresh_postgres_schema()
    else:
        yield None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema whatever ``--db`` says, for tests that need PostgreSQL."""
    yield from fresh_postgres_schema()
