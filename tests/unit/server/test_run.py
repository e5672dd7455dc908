from datetime import UTC, datetime

import pytest

from airlock.api.models import REFRESHED_TOKEN_HEADER
from airlock.states import DagRunState, TaskInstanceState


def _run(client, ti_id, token, process):
    return client.patch(f"/task-instances/{ti_id}/run", json=process, token=token)


@pytest.fixture
def queued(db, signer):
    """A queued task instance and its workload token."""
    ti_id = db.task_instance(state=TaskInstanceState.QUEUED, try_number=2, max_tries=3)
    return ti_id, signer.mint(ti_id, scope="workload")


def test_run_starts_a_queued_task_instance(client, db, queued, process):
    """/run moves a queued try to running and records the process that runs it."""
    ti_id, token = queued
    before = datetime.now(UTC)
    response = _run(client, ti_id, token, process)
    assert response.status_code == 200
    ti = db.ti(ti_id)
    assert ti.state == TaskInstanceState.RUNNING
    assert (ti.hostname, ti.unixname, ti.pid) == tuple(process.values())
    assert ti.start_date >= before
    assert ti.last_heartbeat_at >= before
    assert ti.end_date is None


def test_run_answers_the_run_context(client, db, signer, process):
    """The answer tells the task its DAG run, try number and retries."""
    logical = datetime(2024, 1, 2, tzinfo=UTC)
    db.dag_run("etl", "manual__1", logical_date=logical, conf={"x": 1}, run_type="manual")
    ti_id = db.task_instance(dag_id="etl", run_id="manual__1", try_number=2, max_tries=3)
    response = _run(client, ti_id, signer.mint(ti_id, scope="workload"), process)
    context = response.json()
    assert context["try_number"] == 2
    assert context["max_tries"] == 3
    assert context["dag_run"]["dag_id"] == "etl"
    assert context["dag_run"]["run_id"] == "manual__1"
    assert context["dag_run"]["conf"] == {"x": 1}
    assert context["dag_run"]["logical_date"] == "2024-01-02T00:00:00Z"


def test_run_moves_a_queued_dag_run_to_running(client, db, queued, process):
    """Starting the first task of a queued DAG run starts the DAG run too."""
    ti_id, token = queued
    assert db.get_dag_run().state == DagRunState.QUEUED
    _run(client, ti_id, token, process)
    run = db.get_dag_run()
    assert run.state == DagRunState.RUNNING
    assert run.start_date is not None


def test_run_with_a_workload_token_returns_an_execution_token(client, signer, queued, process):
    """The answer to /run carries the execution token the supervisor uses from then on."""
    ti_id, token = queued
    response = _run(client, ti_id, token, process)
    claims = signer.verify(response.headers[REFRESHED_TOKEN_HEADER])
    assert (claims.sub, claims.scope) == (ti_id, "execution")


def test_run_repeated_by_the_same_process_is_answered_again(client, db, queued, process):
    """A /run retried after a lost answer succeeds again with the same context."""
    ti_id, token = queued
    first = _run(client, ti_id, token, process)
    again = _run(client, ti_id, token, process)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert REFRESHED_TOKEN_HEADER in again.headers


@pytest.mark.parametrize("field", ["hostname", "unixname", "pid"])
def test_run_by_another_process_is_a_conflict(client, queued, process, field):
    """A second process cannot start a try that is already running elsewhere."""
    ti_id, token = queued
    _run(client, ti_id, token, process)
    other = {**process, field: 999 if field == "pid" else "elsewhere"}
    response = _run(client, ti_id, token, other)
    assert response.status_code == 409
    assert response.json()["detail"]["reason"] == "invalid_state"


@pytest.mark.parametrize(
    "state",
    [None, *(state for state in TaskInstanceState if state != TaskInstanceState.QUEUED)],
    ids=str,
)
def test_run_from_any_other_state_is_a_conflict(client, db, signer, process, state):
    """Only a queued try can start; the 409 names the state it is in."""
    ti_id = db.task_instance(state=state, hostname="other-host", unixname="x", pid=1)
    response = _run(client, ti_id, signer.mint(ti_id, scope="workload"), process)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail["reason"] == "invalid_state"
    assert str(state or "without a state") in detail["message"]
    assert db.ti(ti_id).state == state


def test_run_of_an_unknown_task_instance_is_not_found(client, signer, process):
    """/run for an id no task instance has answers 404."""
    response = _run(client, "missing", signer.mint("missing", scope="workload"), process)
    assert response.status_code == 404
    assert response.json()["detail"]["reason"] == "task_instance_not_found"


def test_run_accepts_an_execution_token(client, queued, signer, process):
    """/run also accepts the try's execution token."""
    ti_id, _ = queued
    response = _run(client, ti_id, signer.mint(ti_id, scope="execution"), process)
    assert response.status_code == 200


def test_run_with_a_malformed_body_is_unprocessable(client, queued):
    """A body that is not a TIRunRequest answers 422 invalid_body with msgspec's message."""
    ti_id, token = queued
    response = client.patch(f"/task-instances/{ti_id}/run", json={"pid": "x"}, token=token)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["reason"] == "invalid_body"
    assert "$.pid" in detail["message"]


def test_run_with_a_body_that_is_not_json_is_unprocessable(client, queued):
    """A body that is not JSON at all answers 422 invalid_body."""
    ti_id, token = queued
    response = client.patch(f"/task-instances/{ti_id}/run", content=b"{oops", token=token)
    assert response.status_code == 422
    assert response.json()["detail"]["reason"] == "invalid_body"
