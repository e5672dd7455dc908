"""Every authenticated route of the Execution API refuses bad tokens and foreign task instances.

The routes are read from the served OpenAPI document, so a route added later is covered without
editing this file: a route that forgot to check the token fails here. Single-route cases of
these guarantees are in ``tests/unit/server/test_auth_routes.py``.
"""

from __future__ import annotations

import base64
import json
import secrets
import tempfile
from typing import Any

import pytest
from tests.unit.server.conftest import PROCESS, ApiClient

from airlock.api.models import API_PREFIX
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.server import create_app

BODIES: dict[str, Any] = {
    "run": PROCESS,
    "state": {"state": "success"},
    "heartbeat": {"hostname": PROCESS["hostname"], "pid": PROCESS["pid"]},
    "rendered-fields": {"field": "value"},
    "skip-downstream": {"tasks": []},
    "xcoms": 1,
    "variables": {"value": "v"},
    "claim": {"hostname": "worker-1"},
    "release": {"hostname": "worker-1", "ti_ids": []},
}


def authenticated_operations() -> list[tuple[str, str]]:
    """``(method, path template)`` of every operation a task instance's token is for.

    That is every operation the OpenAPI document marks as secured, except ``/workloads/...``,
    which take a worker's credential instead (``tests/unit/server`` covers those).
    """
    engine = create_db_engine(f"sqlite:///{tempfile.gettempdir()}/airlock-openapi-only.db")
    app = create_app(session_factory=make_session_factory(engine), signer=_throwaway_signer())
    paths = app.openapi()["paths"]
    engine.dispose()
    return sorted(
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in paths.items()
        for method, operation in operations.items()
        if operation.get("security") and not path.startswith(f"{API_PREFIX}/workloads")
    )


def _throwaway_signer() -> Any:
    from airlock.server import TokenSigner  # noqa: PLC0415 -- only to build the document

    return TokenSigner(secrets.token_bytes(64))


OPERATIONS = authenticated_operations()
TI_OPERATIONS = [(m, p) for m, p in OPERATIONS if "{ti_id}" in p]
WRITE_XCOM_OPERATIONS = [(m, p) for m, p in OPERATIONS if p.startswith("/xcoms") and m != "GET"]


def request_for(method: str, template: str, ti_id: str, task_id: str = "task") -> dict[str, Any]:
    """A well-formed request for an operation, acting on ``ti_id`` / ``task_id``'s data."""
    path = template.format(
        ti_id=ti_id, dag_id="dag", run_id="run", task_id=task_id, key="k", conn_id="c"
    )
    last = next(part for part in reversed(template.split("/")) if not part.startswith("{"))
    body = BODIES.get(last) if method in {"POST", "PUT", "PATCH"} else None
    return {"method": method, "path": path, "json": body}


def send(client: ApiClient, request: dict[str, Any], token: str | None) -> Any:
    """Send a request built by :func:`request_for`."""
    kwargs = {} if request["json"] is None else {"json": request["json"]}
    return client.request(request["method"], request["path"], token=token, **kwargs)


def unsigned(ti_id: str) -> str:
    """A token with ``alg=none`` and no signature, claiming ``ti_id``."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': ti_id, 'scope': 'execution'})}."


BAD_TOKENS = {
    "none": (None, 401),
    "expired": ({"age": 7200}, 401),
    "wrong_key": ({"key": b"k" * 64}, 403),
    "wrong_audience": ({"aud": "urn:someone:else"}, 403),
    "wrong_issuer": ({"iss": "mallory"}, 403),
    "unknown_scope": ({"scope": "admin"}, 403),
    "alg_none": ("unsigned", 403),
    "garbage": ("garbage", 403),
}


def bad_token(kind: str, ti_id: str, forge: Any) -> str | None:
    """The bad token of ``kind`` for ``ti_id``."""
    spec, _ = BAD_TOKENS[kind]
    if spec is None:
        return None
    if spec == "unsigned":
        return unsigned(ti_id)
    if spec == "garbage":
        return "not.a.token"
    return forge(ti_id, **spec)


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
@pytest.mark.parametrize("operation", OPERATIONS, ids=" ".join)
def test_every_route_refuses_a_bad_token(client, running, forge, operation, kind):
    """Missing or expired tokens get 401; forged, unsigned or foreign ones 403, on every route."""
    request = request_for(*operation, running.id)
    answer = send(client, request, bad_token(kind, running.id, forge))
    assert answer.status_code == BAD_TOKENS[kind][1], answer.text
    assert set(answer.json()["detail"]) == {"reason", "message"}


@pytest.mark.parametrize("operation", TI_OPERATIONS, ids=" ".join)
def test_a_token_cannot_act_on_another_task_instance(client, db, running, operation):
    """Task instance A's token cannot read or change task instance B through any route."""
    other = db.running_task_instance(task_id="other")
    answer = send(client, request_for(*operation, other), running.token)
    assert answer.status_code == 403, answer.text
    assert db.ti(other).state == "running"


@pytest.mark.parametrize("operation", WRITE_XCOM_OPERATIONS, ids=" ".join)
def test_a_token_cannot_write_xcoms_as_another_task(client, running, operation):
    """Task instance A's token cannot write or delete the XComs of task B."""
    answer = send(client, request_for(*operation, running.id, task_id="other"), running.token)
    assert answer.status_code == 403, answer.text


@pytest.mark.parametrize("operation", OPERATIONS, ids=" ".join)
def test_a_finished_try_can_act_nowhere(client, db, running, operation):
    """Once A's try has ended, its token is refused by every route (and gets no new token)."""
    assert (
        client.patch(
            f"/task-instances/{running.id}/state", token=running.token, json={"state": "success"}
        ).status_code
        == 204
    )
    answer = send(client, request_for(*operation, running.id), running.token)
    assert 400 <= answer.status_code < 500, answer.text
    assert "Refreshed-API-Token" not in answer.headers
    assert db.ti(running.id).state == "success"
