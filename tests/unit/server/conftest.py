"""Fixtures for the Execution API tests: a migrated database, a signer, the app, a client.

The client calls the app in-process through ``httpx.ASGITransport`` on one event loop per test,
so the tests exercise the real routes, auth, middleware and database with no server process.
Every test that touches the database runs on SQLite and on PostgreSQL (skipped when PostgreSQL
is unreachable, unless ``CI=true``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import psycopg
import pytest
from sqlalchemy import select, text

from airlock.api.models import API_PREFIX
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.db.models import DagRun, TaskInstance, TaskInstanceHistory
from airlock.server import TokenSigner, create_app
from airlock.states import DagRunState, TaskInstanceState

if TYPE_CHECKING:
    from collections.abc import Iterator

HOSTNAME = "worker-1"
UNIXNAME = "airlock"
PID = 4242
PROCESS = {"hostname": HOSTNAME, "unixname": UNIXNAME, "pid": PID}
POSTGRES_URL = os.environ.get(
    "AIRLOCK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class ApiClient:
    """A synchronous client for the app: paths are relative to the API prefix."""

    def __init__(self, app: Any, *, raise_app_exceptions: bool = True) -> None:
        self._runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://airlock")

    def request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any):
        """Send one request, with ``token`` as its Bearer token when given."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        call = self._client.request(method, API_PREFIX + path, headers=headers, **kwargs)
        return self._runner.run(call)

    def get(self, path: str, **kwargs: Any):
        """Send a GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any):
        """Send a POST."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any):
        """Send a PUT."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any):
        """Send a PATCH."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        """Send a DELETE."""
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        """Close the client and its event loop."""
        self._runner.run(self._client.aclose())
        self._runner.close()


@dataclass
class Database:
    """Inserts and reads rows directly, around the API."""

    session_factory: Any

    def dag_run(
        self, dag_id: str = "dag", run_id: str = "run", state: str = DagRunState.QUEUED, **fields
    ) -> DagRun:
        """Insert a DAG run."""
        run = DagRun(
            dag_id=dag_id, run_id=run_id, state=state, created_at=datetime.now(UTC), **fields
        )
        with self.session_factory.begin() as session:
            session.add(run)
        return run

    def task_instance(
        self,
        *,
        dag_id: str = "dag",
        run_id: str = "run",
        task_id: str = "task",
        state: str | None = TaskInstanceState.QUEUED,
        **fields,
    ) -> str:
        """Insert a task instance (and its DAG run when missing); return its id."""
        if self.get_dag_run(dag_id, run_id) is None:
            self.dag_run(dag_id, run_id)
        ti_id = str(uuid.uuid4())
        fields.setdefault("try_number", 1)
        ti = TaskInstance(
            id=ti_id,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            state=state,
            updated_at=datetime.now(UTC),
            **fields,
        )
        with self.session_factory.begin() as session:
            session.add(ti)
        return ti_id

    def running_task_instance(self, **fields) -> str:
        """Insert a task instance that ``PROCESS`` is running; return its id."""
        now = datetime.now(UTC)
        fields = {"start_date": now, "last_heartbeat_at": now, **PROCESS, **fields}
        return self.task_instance(state=TaskInstanceState.RUNNING, **fields)

    def update_ti(self, ti_id: str, **fields) -> None:
        """Change columns of a live task instance."""
        with self.session_factory.begin() as session:
            ti = session.get_one(TaskInstance, ti_id)
            for name, value in fields.items():
                setattr(ti, name, value)

    def ti(self, ti_id: str) -> TaskInstance | None:
        """Read a live task instance by id."""
        with self.session_factory() as session:
            return session.get(TaskInstance, ti_id)

    def ti_of(self, dag_id: str = "dag", run_id: str = "run", task_id: str = "task"):
        """Read the live task instance of a task."""
        query = select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
        )
        with self.session_factory() as session:
            return session.scalars(query).one()

    def history(self, ti_id: str) -> TaskInstanceHistory | None:
        """Read an archived try by id."""
        with self.session_factory() as session:
            return session.get(TaskInstanceHistory, ti_id)

    def get_dag_run(self, dag_id: str = "dag", run_id: str = "run") -> DagRun | None:
        """Read a DAG run."""
        query = select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        with self.session_factory() as session:
            return session.scalars(query).one_or_none()


def _require_postgres() -> None:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards; yields a URL that uses it."""
    _require_postgres()
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


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """An engine on a migrated database: a SQLite file, then a PostgreSQL schema."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'airlock.db'}"
        else:
            url = stack.enter_context(_postgres_schema())
        engine = create_db_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        yield engine


@pytest.fixture
def session_factory(engine):
    """The session factory the app uses."""
    return make_session_factory(engine)


@pytest.fixture
def db(session_factory) -> Database:
    """Direct access to the rows behind the API."""
    return Database(session_factory)


@pytest.fixture
def secret() -> bytes:
    """A random token secret."""
    return secrets.token_bytes(64)


@pytest.fixture
def signer(secret) -> TokenSigner:
    """The app's token signer."""
    return TokenSigner(secret)


@pytest.fixture
def app(session_factory, signer):
    """The Execution API app."""
    return create_app(session_factory=session_factory, signer=signer)


@pytest.fixture
def make_client(session_factory, signer):
    """Build a client for an app made with other options, e.g. ``xcom_max_bytes``."""
    clients: list[ApiClient] = []

    def make_client(*, raise_app_exceptions: bool = True, **options: Any) -> ApiClient:
        app = create_app(session_factory=session_factory, signer=signer, **options)
        clients.append(ApiClient(app, raise_app_exceptions=raise_app_exceptions))
        return clients[-1]

    yield make_client
    for client in clients:
        client.close()


@pytest.fixture
def client(app):
    """A client for the app."""
    client = ApiClient(app)
    yield client
    client.close()


@pytest.fixture
def forge(secret, signer):
    """Build tokens by hand: valid claims by default, any of them overridden."""

    def forge(
        sub: str,
        *,
        key: bytes | None = None,
        algorithm: str = "HS512",
        age: float = 0,
        **claims: Any,
    ) -> str:
        now = int(time.time() - age)
        payload = {
            "sub": sub,
            "scope": "execution",
            "aud": signer.audience,
            "iss": signer.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + int(signer.execution_lifetime),
            "jti": uuid.uuid4().hex,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, secret if key is None else key, algorithm=algorithm)

    return forge


@pytest.fixture
def process() -> dict[str, Any]:
    """The process (host, user, pid) that runs task instances in these tests."""
    return dict(PROCESS)


@pytest.fixture
def running(db, signer):
    """A running task instance and an execution token for it."""
    ti_id = db.running_task_instance()
    return RunningTI(ti_id, signer.mint(ti_id, scope="execution"))


@dataclass(frozen=True)
class RunningTI:
    """A running task instance and its execution token."""

    id: str
    token: str
