import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from airlock.db.engine import READ_ONLY, create_db_engine, make_session_factory
from airlock.exceptions import ConfigError


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_connections_are_tuned_for_concurrent_writers(engine):
    """Every SQLite connection uses WAL, synchronous=NORMAL, foreign keys and a 30 s busy wait."""
    assert _pragma(engine, "journal_mode") == "wal"
    assert _pragma(engine, "synchronous") == 1
    assert _pragma(engine, "foreign_keys") == 1
    assert _pragma(engine, "busy_timeout") == 30_000


def test_concurrent_read_then_write_transactions_wait_instead_of_failing(engine):
    """Transactions that read then write on SQLite queue up rather than fail with 'locked'."""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))

    def increment() -> None:
        with engine.begin() as connection:
            n = connection.execute(text("SELECT n FROM counter")).scalar_one()
            time.sleep(0.05)
            connection.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    with ThreadPoolExecutor(max_workers=5) as pool:
        for future in [pool.submit(increment) for _ in range(5)]:
            future.result()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == 5


def test_read_only_transactions_do_not_wait_for_a_writer(engine):
    """A connection opened with the READ_ONLY option reads while another holds the write lock."""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE item (n INTEGER)"))
    writing = threading.Event()
    done = threading.Event()

    def hold_write_lock() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO item VALUES (1)"))
            writing.set()
            done.wait(5)

    writer = threading.Thread(target=hold_write_lock)
    writer.start()
    try:
        assert writing.wait(5)
        started = time.monotonic()
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            assert connection.execute(text("SELECT count(*) FROM item")).scalar_one() == 0
        assert time.monotonic() - started < 1
    finally:
        done.set()
        writer.join()


def test_sessions_keep_their_objects_loaded_after_commit(engine):
    """Objects read in a session stay usable after commit (expire_on_commit is off)."""
    factory = make_session_factory(engine)
    assert factory.kw["expire_on_commit"] is False
    assert factory.kw["bind"] is engine


@pytest.mark.parametrize(
    "url", ["postgresql://user:pw@db.example/airlock", "postgresql+psycopg://db.example/airlock"]
)
def test_postgresql_urls_use_psycopg_3(url):
    """Plain postgresql:// URLs are read as psycopg 3 URLs, with connections checked before use."""
    engine = create_db_engine(url)
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    assert engine.pool._pre_ping
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    ["mysql://user@db/airlock", "postgresql+psycopg2://db/airlock", "oracle://db/airlock"],
)
def test_other_databases_are_refused_with_the_supported_schemes(url):
    """A URL for another database or driver raises ConfigError listing what is supported."""
    with pytest.raises(ConfigError, match=r"unsupported database URL scheme .*postgresql\+psycopg"):
        create_db_engine(url)


def test_an_unparsable_url_is_refused_without_echoing_it():
    """A URL that cannot be parsed raises ConfigError that does not repeat its secrets."""
    with pytest.raises(ConfigError, match="cannot be parsed") as caught:
        create_db_engine("not a url with secret-password")
    assert "secret-password" not in str(caught.value)
