import secrets

import jwt
import pytest

from airlock.api.models import REFRESHED_TOKEN_HEADER
from airlock.states import TaskInstanceState


def _reason(response) -> str:
    return response.json()["detail"]["reason"]


def _heartbeat(client, ti_id, process, **kwargs):
    beat = {"hostname": process["hostname"], "pid": process["pid"]}
    return client.put(f"/task-instances/{ti_id}/heartbeat", json=beat, **kwargs)


def test_a_request_without_token_is_unauthorised(client, running, process):
    """No Authorization header answers 401 missing_token."""
    response = _heartbeat(client, running.id, process)
    assert response.status_code == 401
    assert _reason(response) == "missing_token"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Token abc", ""])
def test_a_malformed_authorization_header_is_unauthorised(client, running, process, header):
    """An Authorization header that is not 'Bearer <token>' answers 401 missing_token."""
    response = _heartbeat(client, running.id, process, headers={"Authorization": header})
    assert response.status_code == 401
    assert _reason(response) == "missing_token"


def test_an_expired_token_is_unauthorised(client, running, process, forge):
    """An expired token answers 401 token_expired, so the caller knows to get a new one."""
    token = forge(running.id, age=700)
    response = _heartbeat(client, running.id, process, token=token)
    assert response.status_code == 401
    assert _reason(response) == "token_expired"


@pytest.mark.parametrize(
    "overrides",
    [
        {"key": secrets.token_bytes(64)},
        {"aud": "urn:someone:else"},
        {"iss": "mallory"},
        {"algorithm": "HS256"},
        {"scope": "admin"},
        {"jti": None},
    ],
    ids=["wrong-key", "wrong-audience", "wrong-issuer", "other-algorithm", "bad-scope", "no-jti"],
)
def test_a_forged_or_foreign_token_is_forbidden(client, running, process, forge, overrides):
    """A token signed with another key, or meant for another audience, answers 403."""
    response = _heartbeat(client, running.id, process, token=forge(running.id, **overrides))
    assert response.status_code == 403
    assert _reason(response) == "invalid_token"


def test_an_unsigned_token_is_forbidden(client, running, process):
    """A token with alg=none is refused with 403 invalid_token."""
    payload = jwt.decode(running.token, options={"verify_signature": False})
    unsigned = jwt.encode(payload, None, algorithm="none")
    response = _heartbeat(client, running.id, process, token=unsigned)
    assert response.status_code == 403
    assert _reason(response) == "invalid_token"


def test_garbage_is_forbidden(client, running, process):
    """A Bearer value that is not a JWT answers 403 invalid_token."""
    response = _heartbeat(client, running.id, process, token="garbage")
    assert response.status_code == 403
    assert _reason(response) == "invalid_token"


def test_a_token_for_another_task_instance_is_forbidden(client, db, signer, running, process):
    """A task instance's token cannot act on another task instance."""
    other = db.running_task_instance(task_id="other")
    response = _heartbeat(client, other, process, token=running.token)
    assert response.status_code == 403
    assert _reason(response) == "wrong_task_instance"


@pytest.mark.parametrize(
    "call",
    [
        ("PUT", "/task-instances/{id}/heartbeat", {"hostname": "worker-1", "pid": 4242}),
        ("PATCH", "/task-instances/{id}/state", {"state": "success"}),
        ("GET", "/variables/key", None),
        ("GET", "/connections/conn", None),
        ("GET", "/xcoms/dag/run/task/key", None),
    ],
    ids=lambda call: f"{call[0]} {call[1]}" if isinstance(call, tuple) else None,
)
def test_a_workload_token_only_starts_the_task(client, signer, running, call):
    """A workload token is refused everywhere but /run with 403 wrong_scope."""
    method, path, body = call
    token = signer.mint(running.id, scope="workload")
    response = client.request(method, path.format(id=running.id), json=body, token=token)
    assert response.status_code == 403
    assert _reason(response) == "wrong_scope"


def test_a_fresh_token_is_not_refreshed(client, running, process):
    """While more than half its lifetime remains, answers carry no new token."""
    response = _heartbeat(client, running.id, process, token=running.token)
    assert response.status_code == 204
    assert REFRESHED_TOKEN_HEADER not in response.headers


def test_a_half_used_token_is_refreshed(client, signer, running, process, forge):
    """Once less than half its lifetime remains, a successful answer carries a new token."""
    old = forge(running.id, age=signer.execution_lifetime / 2 + 5)
    response = _heartbeat(client, running.id, process, token=old)
    assert response.status_code == 204
    claims = signer.verify(response.headers[REFRESHED_TOKEN_HEADER])
    assert (claims.sub, claims.scope) == (running.id, "execution")
    assert claims.expires_at > signer.verify(old).expires_at


def test_a_token_just_under_half_used_is_not_refreshed(client, signer, running, process, forge):
    """A token with a little more than half its lifetime left is not refreshed yet."""
    token = forge(running.id, age=signer.execution_lifetime / 2 - 5)
    response = _heartbeat(client, running.id, process, token=token)
    assert REFRESHED_TOKEN_HEADER not in response.headers


def test_refresh_applies_to_every_route_of_a_running_task(client, signer, running, forge):
    """A half-used token is refreshed on Variable, XCom and Connection routes too."""
    old = forge(running.id, age=signer.execution_lifetime / 2 + 5)
    response = client.get("/variables/missing", token=old)
    assert response.status_code == 404
    assert REFRESHED_TOKEN_HEADER not in response.headers
    response = client.put("/variables/present", json={"value": "v"}, token=old)
    assert response.status_code == 204
    assert REFRESHED_TOKEN_HEADER in response.headers


def test_a_finishing_task_gets_no_new_token(client, db, signer, running, forge):
    """The answer that ends a try carries no refreshed token, even for a half-used token."""
    old = forge(running.id, age=signer.execution_lifetime / 2 + 5)
    response = client.patch(
        f"/task-instances/{running.id}/state", json={"state": "success"}, token=old
    )
    assert response.status_code == 204
    assert REFRESHED_TOKEN_HEADER not in response.headers
    assert db.ti(running.id).state == TaskInstanceState.SUCCESS


def test_a_retried_task_gets_no_new_token(client, signer, running, forge):
    """The answer that archives a try for retry carries no token for the archived id."""
    old = forge(running.id, age=signer.execution_lifetime / 2 + 5)
    response = client.patch(
        f"/task-instances/{running.id}/state", json={"state": "up_for_retry"}, token=old
    )
    assert response.status_code == 204
    assert REFRESHED_TOKEN_HEADER not in response.headers


def test_a_failed_request_gets_no_new_token(client, signer, running, forge):
    """A refused request carries no refreshed token."""
    old = forge(running.id, age=signer.execution_lifetime / 2 + 5)
    response = client.put(
        f"/task-instances/{running.id}/heartbeat", json={"hostname": "x", "pid": 1}, token=old
    )
    assert response.status_code == 409
    assert REFRESHED_TOKEN_HEADER not in response.headers


def test_a_finished_task_can_use_nothing(client, db, signer):
    """The token of a finished try is refused on the XCom, Variable and Connection routes."""
    ti_id = db.task_instance(state=TaskInstanceState.SUCCESS)
    token = signer.mint(ti_id, scope="execution")
    for path in ("/variables/k", "/connections/c", "/xcoms/dag/run/task/k"):
        response = client.get(path, token=token)
        assert response.status_code == 403
        assert _reason(response) == "task_instance_not_running"
        assert "success" in response.json()["detail"]["message"]


def test_a_token_for_an_unknown_task_instance_can_use_nothing(client, signer):
    """A valid token whose task instance does not exist is refused with 403."""
    token = signer.mint("no-such-ti", scope="execution")
    response = client.get("/variables/k", token=token)
    assert response.status_code == 403
    assert _reason(response) == "task_instance_not_running"
