from datetime import UTC, datetime

from airlock.states import TaskInstanceState


def _beat(client, ti_id, token, hostname="worker-1", pid=4242):
    body = {"hostname": hostname, "pid": pid}
    return client.put(f"/task-instances/{ti_id}/heartbeat", json=body, token=token)


def test_a_heartbeat_records_that_the_try_is_alive(client, db, running):
    """A heartbeat from the process running the try answers 204 and updates last_heartbeat_at."""
    before = datetime.now(UTC)
    response = _beat(client, running.id, running.token)
    assert response.status_code == 204
    assert db.ti(running.id).last_heartbeat_at >= before


def test_a_heartbeat_for_a_finished_try_is_a_conflict(client, db, signer):
    """A heartbeat for a try that is not running answers 409 not_running."""
    ti_id = db.task_instance(state=TaskInstanceState.SUCCESS, hostname="worker-1", pid=4242)
    response = _beat(client, ti_id, signer.mint(ti_id, scope="execution"))
    assert response.status_code == 409
    assert response.json()["detail"]["reason"] == "not_running"


def test_a_heartbeat_from_another_process_is_a_conflict(client, db, running):
    """A heartbeat from a host or pid other than the one that started the try answers 409."""
    for hostname, pid in (("worker-2", 4242), ("worker-1", 1)):
        response = _beat(client, running.id, running.token, hostname, pid)
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert detail["reason"] == "running_elsewhere"
        assert "pid 4242 on 'worker-1'" in detail["message"]
    assert db.ti(running.id).state == TaskInstanceState.RUNNING


def test_a_heartbeat_for_an_unknown_try_is_not_found(client, signer):
    """A heartbeat for an id no task instance has answers 404."""
    response = _beat(client, "missing", signer.mint("missing", scope="execution"))
    assert response.status_code == 404
    assert response.json()["detail"]["reason"] == "task_instance_not_found"


def test_a_heartbeat_for_an_archived_try_is_gone(client, running):
    """A heartbeat for a try archived for retry answers 410."""
    client.patch(
        f"/task-instances/{running.id}/state", json={"state": "up_for_retry"}, token=running.token
    )
    response = _beat(client, running.id, running.token)
    assert response.status_code == 410
