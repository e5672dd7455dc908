"""Fuzzing the Execution API from its own OpenAPI document: no 500s, every error structured.

schemathesis generates requests for every operation of the served document. Most of them carry
a valid token for a real task instance, with path parameters pointing at real rows, so the
routes' own logic is reached and not only the authentication in front of it; the rest carry
whatever token schemathesis made up. Every answer must be below 500, and every error answer an
``ErrorBody``: ``{"detail": {"reason": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.server.conftest import Database

from airlock.api.models import API_PREFIX
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.server import TokenSigner, create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

EXAMPLES_PER_OPERATION = 50


class Target:
    """The app over a fresh database, and a way to make real task instances with tokens."""

    def __init__(self, url: str) -> None:
        self.engine = create_db_engine(url)
        upgrade(self.engine)
        self.db = Database(make_session_factory(self.engine))
        self.signer = TokenSigner(secrets.token_bytes(64))
        self.app = create_app(session_factory=self.db.session_factory, signer=self.signer)
        self.runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://airlock")

    def running_ti(self, state: str) -> tuple[str, str]:
        """A task instance (running, or ``state``) of DAG ``dag``, and an execution token for it."""
        ti_id = self.db.running_task_instance(task_id=f"t{secrets.token_hex(4)}")
        if state != "running":
            self.db.update_ti(ti_id, state=state)
        return ti_id, self.signer.mint(ti_id, scope="execution")

    def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        """Send one generated request."""
        return self.runner.run(self.client.request(**kwargs))

    def close(self) -> None:
        """Release the client, loop and engine."""
        self.runner.run(self.client.aclose())
        self.runner.close()
        self.engine.dispose()


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Iterator[Target]:
    """One app and database for the whole module (each example makes its own rows)."""
    target = Target(f"sqlite:///{tmp_path_factory.mktemp('api-fuzz') / 'fuzz.db'}")
    yield target
    target.close()


def _schema_operations() -> list[Any]:
    """Every operation of the served OpenAPI document."""
    engine = create_db_engine(f"sqlite:///{tempfile.gettempdir()}/airlock-openapi-only.db")
    app = create_app(  # never queried: only its document is read
        session_factory=make_session_factory(engine), signer=TokenSigner(secrets.token_bytes(64))
    )
    schema = schemathesis.openapi.from_dict(app.openapi())
    engine.dispose()
    return [result.ok() for result in schema.get_all_operations()]


OPERATIONS = _schema_operations()
REAL_PATH_VALUES = {"dag_id": "dag", "run_id": "run", "key": "fuzz_key", "conn_id": "fuzz_conn"}


def _aim(case: Any, ti_id: str, task_id: str, *, aimed: bool) -> None:
    """Point the case's path parameters at real rows (when ``aimed``)."""
    if not aimed or case.path_parameters is None:
        return
    for name in case.path_parameters:
        if name == "ti_id":
            case.path_parameters[name] = ti_id
        elif name == "task_id":
            case.path_parameters[name] = task_id
        elif name in REAL_PATH_VALUES:
            case.path_parameters[name] = REAL_PATH_VALUES[name]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_generated_request_gets_a_server_error(target, operation):
    """Generated requests, authenticated or not, get a 2xx or a structured 4xx, never a 5xx."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        case=operation.as_strategy(),
        token_kind=st.sampled_from(["valid", "valid", "valid", "generated"]),
        aimed=st.booleans(),
        state=st.sampled_from(["running", "running", "queued", "success"]),
    )
    def check(case: Any, token_kind: str, aimed: bool, state: str) -> None:
        ti_id, token = target.running_ti(state)
        task_id = target.db.ti(ti_id).task_id
        _aim(case, ti_id, task_id, aimed=aimed)
        headers = {"Authorization": f"Bearer {token}"} if token_kind == "valid" else None
        kwargs = case.as_transport_kwargs(base_url="http://airlock", headers=headers)
        kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), bytes | str):  # raw bodies go as content in httpx
            kwargs["content"] = kwargs.pop("data")
        answer = target.send(kwargs)
        assert answer.status_code < 500, (kwargs, answer.text)
        if answer.status_code >= 400:
            detail = answer.json()["detail"]
            assert set(detail) == {"reason", "message"}, answer.text
            assert all(isinstance(value, str) and value for value in detail.values())

    check()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/task-instances/{ti}/skip-downstream", {"tasks": [["a", 2**63]]}),
        ("PUT", "/task-instances/{ti}/heartbeat", {"hostname": "h", "pid": 2**40}),
        ("GET", "/xcoms/dag/run/task/k?map_index=9223372036854775808", None),
        ("GET", "/xcom-sequences/dag/run/task/k?start=-9223372036854775809", None),
    ],
)
def test_an_integer_too_large_for_the_database_is_a_422(target, method, path, body):
    """Found by the fuzzer: integers past 32 bits are refused as invalid, not a server error."""
    ti_id, token = target.running_ti("running")
    answer = target.send(
        {
            "method": method,
            "url": f"http://airlock{API_PREFIX}{path.format(ti=ti_id)}",
            "headers": {"Authorization": f"Bearer {token}"},
            "json": body,
        }
    )
    assert answer.status_code == 422, answer.text
    assert set(answer.json()["detail"]) == {"reason", "message"}
