from datetime import UTC, datetime

import pytest

from airlock.states import TaskInstanceState


def _finish(client, ti_id, token, body):
    return client.patch(f"/task-instances/{ti_id}/state", json=body, token=token)


@pytest.mark.parametrize(
    "body",
    [
        {"state": "success"},
        {"state": "failed", "reason": "boom"},
        {"state": "skipped", "reason": "nothing to do"},
    ],
    ids=lambda body: body["state"],
)
def test_a_running_try_ends_in_the_reported_state(client, db, running, body):
    """/state records the outcome, the end time and the reason of a running try."""
    before = datetime.now(UTC)
    response = _finish(client, running.id, running.token, body)
    assert response.status_code == 204
    assert response.content == b""
    ti = db.ti(running.id)
    assert ti.state == body["state"]
    assert ti.end_date >= before
    assert ti.failure_reason == body.get("reason")


def test_a_second_report_for_the_same_try_is_a_conflict(client, db, running):
    """A duplicate or contradicting report answers 409 and the first outcome stays."""
    assert _finish(client, running.id, running.token, {"state": "success"}).status_code == 204
    for body in ({"state": "success"}, {"state": "failed", "reason": "late"}):
        response = _finish(client, running.id, running.token, body)
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert detail["reason"] == "invalid_state"
        assert "is success" in detail["message"]
    assert db.ti(running.id).state == TaskInstanceState.SUCCESS
    assert db.ti(running.id).failure_reason is None


def test_a_queued_try_cannot_end(client, db, signer):
    """Only a running try can report an outcome."""
    ti_id = db.task_instance(state=TaskInstanceState.QUEUED)
    response = _finish(client, ti_id, signer.mint(ti_id, scope="execution"), {"state": "success"})
    assert response.status_code == 409
    assert db.ti(ti_id).state == TaskInstanceState.QUEUED


def test_an_unknown_state_is_unprocessable(client, running):
    """A body whose state is not one of the four outcomes answers 422 invalid_body."""
    response = _finish(client, running.id, running.token, {"state": "running"})
    assert response.status_code == 422
    assert response.json()["detail"]["reason"] == "invalid_body"


def test_up_for_retry_archives_the_try_and_renews_the_id(client, db, running):
    """A try that will retry is copied to history and the task instance gets a new id."""
    before = db.ti(running.id)
    response = _finish(client, running.id, running.token, {"state": "up_for_retry", "reason": "x"})
    assert response.status_code == 204
    assert db.ti(running.id) is None
    archived = db.history(running.id)
    assert archived.state == TaskInstanceState.UP_FOR_RETRY
    assert archived.failure_reason == "x"
    assert archived.end_date is not None
    assert (archived.hostname, archived.pid, archived.try_number) == (
        before.hostname,
        before.pid,
        before.try_number,
    )
    assert archived.start_date == before.start_date
    live = db.ti_of()
    assert live.id != running.id
    assert live.state == TaskInstanceState.UP_FOR_RETRY
    assert live.try_number == before.try_number
    assert live.failure_reason == "x"
    assert live.end_date == archived.end_date
    assert live.next_retry_at is None


def test_each_retry_gets_its_own_history_row(client, db, signer):
    """Every try that ends up_for_retry is archived under its own id."""
    first = db.running_task_instance(try_number=1)
    _finish(client, first, signer.mint(first, scope="execution"), {"state": "up_for_retry"})
    second = db.ti_of().id
    db.update_ti(second, state=TaskInstanceState.RUNNING, try_number=2)
    _finish(client, second, signer.mint(second, scope="execution"), {"state": "up_for_retry"})
    assert [db.history(ti_id).try_number for ti_id in (first, second)] == [1, 2]
    assert db.ti_of().id not in (first, second)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/task-instances/{id}/run", {"hostname": "worker-1", "unixname": "a", "pid": 1}),
        ("PATCH", "/task-instances/{id}/state", {"state": "success"}),
        ("PUT", "/task-instances/{id}/heartbeat", {"hostname": "worker-1", "pid": 4242}),
        ("GET", "/variables/k", None),
        ("PUT", "/variables/k", {"value": "v"}),
        ("GET", "/connections/c", None),
        ("GET", "/xcoms/dag/run/task/k", None),
        ("POST", "/xcoms/dag/run/task/k", 1),
    ],
)
def test_an_archived_try_is_gone_on_every_route(client, running, method, path, body):
    """After a retry, the old try's id and token answer 410 task_instance_archived everywhere."""
    _finish(client, running.id, running.token, {"state": "up_for_retry"})
    url = path.format(id=running.id)
    response = client.request(method, url, json=body, token=running.token)
    assert response.status_code == 410
    assert response.json()["detail"]["reason"] == "task_instance_archived"
