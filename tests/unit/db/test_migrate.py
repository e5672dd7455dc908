from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text

from airlock.db import migrate
from airlock.db.engine import make_session_factory
from airlock.db.models import Base, DagRun, Variable

EXPECTED_TABLES = {
    "alembic_version",
    "connection",
    "dag",
    "dag_run",
    "import_error",
    "pool",
    "rendered_task_instance_fields",
    "serialized_dag",
    "task_instance",
    "task_instance_history",
    "variable",
    "xcom",
}


def _migrated_schema_matches_the_models(engine) -> None:
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) == EXPECTED_TABLES
    assert set(Base.metadata.tables) == EXPECTED_TABLES - {"alembic_version"}
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.check(engine) == []


def test_upgrade_creates_every_table_of_the_models_on_sqlite(engine):
    """Migrating an empty SQLite database gives exactly the models' schema."""
    _migrated_schema_matches_the_models(engine)


def test_upgrade_creates_every_table_of_the_models_on_postgresql(postgres_engine):
    """Migrating an empty PostgreSQL schema gives exactly the models' schema."""
    _migrated_schema_matches_the_models(postgres_engine)


def test_constraints_carry_the_names_of_the_naming_convention(engine):
    """Migrated constraints have the conventional names, so later revisions can find them."""
    migrate.upgrade(engine)
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("task_instance")["name"] == "pk_task_instance"
    assert {fk["name"] for fk in inspector.get_foreign_keys("xcom")} == {"fk_xcom_dag_id_dag_run"}
    assert {uq["name"] for uq in inspector.get_unique_constraints("task_instance")} == {
        "uq_task_instance_dag_id_run_id_task_id_map_index"
    }
    assert {ix["name"] for ix in inspector.get_indexes("task_instance")} == {
        "ix_task_instance_state",
        "ix_task_instance_pool_state",
    }


def test_upgrade_twice_is_harmless_and_keeps_the_data(engine):
    """Calling upgrade on an up-to-date database changes nothing."""
    migrate.upgrade(engine)
    with make_session_factory(engine).begin() as session:
        session.add(Variable(key="k", value="v"))
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        assert session.get(Variable, "k") is not None
    assert migrate.check(engine) == []


def test_check_reports_a_schema_that_drifted_from_the_models(engine):
    """check() names what differs between the database and the models."""
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_task_instance_state"))
    assert migrate.check(engine) == ["add_index: task_instance.ix_task_instance_state"]


def test_reset_drops_everything_and_migrates_again(engine):
    """reset() leaves an empty database at the latest revision, whatever it held before."""
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE leftover (n INTEGER)"))
        connection.execute(
            text("INSERT INTO variable (key, value) VALUES ('k', 'v')"),
        )
    migrate.reset(engine)
    assert set(inspect(engine).get_table_names()) == EXPECTED_TABLES
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM variable")).scalar_one() == 0
    assert migrate.check(engine) == []


def test_reset_migrates_a_database_that_was_never_migrated(engine):
    """reset() on an empty database simply migrates it."""
    migrate.reset(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_timestamps_round_trip_as_aware_utc(engine):
    """A datetime column written through the migrated schema reads back timezone-aware in UTC."""
    migrate.upgrade(engine)
    created = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    with make_session_factory(engine).begin() as session:
        session.add(DagRun(dag_id="d", run_id="r", state="queued", created_at=created))
    with make_session_factory(engine)() as session:
        assert session.scalars(select(DagRun.created_at)).one() == created


@pytest.mark.parametrize("table", sorted(EXPECTED_TABLES - {"alembic_version"}))
def test_every_model_column_exists_after_migration(engine, table):
    """Each model table has the same columns after migrating as the model declares."""
    migrate.upgrade(engine)
    columns = {column["name"] for column in inspect(engine).get_columns(table)}
    assert columns == set(Base.metadata.tables[table].columns.keys())
