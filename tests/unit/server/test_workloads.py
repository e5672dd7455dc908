"""Worker routes: local workers claim queued tries with their credential, and hand them back."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from airlock.api.workloads import WorkloadClaimResponse
from airlock.definitions.serialized import ParseResult, SerializedDag, SerializedTask
from airlock.scheduling.dag_store import store_parse_result
from airlock.server.worker_auth import WorkerCredentials
from airlock.states import TaskInstanceState

HOST = "worker-host"


@pytest.fixture
def credentials(secret):
    """The server's worker credentials."""
    return WorkerCredentials(secret)


@pytest.fixture
def api(make_client, credentials):
    """A client for an app that accepts workers."""
    return make_client(worker_credentials=credentials)


@pytest.fixture
def stored_dag(session_factory):
    """A DAG "dag" with a task "task" (execution_timeout 30 s) stored as the scheduler does."""
    dag = SerializedDag(
        dag_id="dag",
        fileloc="/dags/dag.py",
        tasks=(SerializedTask(task_id="task", operator="X", execution_timeout=30.0),),
    )
    with session_factory.begin() as session:
        store_parse_result(
            session, ParseResult(path="/dags/dag.py", dags=(dag,)), datetime.now(UTC)
        )
    return dag


def _claim(api, token, **body):
    body = {"hostname": HOST, "queues": ["default"], "slots": 4} | body
    return api.post("/workloads/claim", token=token, json=body)


def _queued(db, task_id="task", **fields):
    fields.setdefault("queued_at", datetime.now(UTC))
    return db.task_instance(task_id=task_id, state=TaskInstanceState.QUEUED, **fields)


def test_claim_returns_workloads_with_tokens_that_start_the_try(
    api, db, credentials, stored_dag, signer
):
    """A claimed try comes with its DAG file, timeout and a workload token good for /run."""
    ti_id = _queued(db)
    answer = _claim(api, credentials.mint("w1", lifetime=60))
    assert answer.status_code == 200
    (workload,) = msgspec.json.decode(answer.content, type=WorkloadClaimResponse).workloads
    assert (workload.ti.id, workload.dag_file, workload.execution_timeout) == (
        ti_id,
        "/dags/dag.py",
        30.0,
    )
    claims = signer.verify(workload.token)
    assert (claims.sub, claims.scope) == (ti_id, "workload")
    assert db.ti(ti_id).claimed_by == f"w1@{HOST}"
    started = api.patch(
        f"/task-instances/{ti_id}/run",
        token=workload.token,
        json={"hostname": HOST, "pid": 1, "unixname": "u"},
    )
    assert started.status_code == 200


def test_a_claim_that_starts_its_tries_saves_the_run_request(
    api, db, credentials, stored_dag, signer
):
    """With start, a claimed try is running for the claiming process and acts at once."""
    ti_id = _queued(db)
    answer = _claim(
        api, credentials.mint("w1", lifetime=60), start=True, pid=4242, unixname="airlock"
    )
    assert answer.status_code == 200
    (workload,) = msgspec.json.decode(answer.content, type=WorkloadClaimResponse).workloads
    assert workload.run_context is not None
    assert (workload.run_context.try_number, workload.run_context.dag_run.run_id) == (
        db.ti(ti_id).try_number,
        "run",
    )
    assert (signer.verify(workload.token).sub, signer.verify(workload.token).scope) == (
        ti_id,
        "execution",
    )
    ti = db.ti(ti_id)
    assert (ti.state, ti.hostname, ti.pid, ti.unixname) == ("running", HOST, 4242, "airlock")
    beat = {"hostname": HOST, "pid": 4242}
    assert api.put(f"/task-instances/{ti_id}/heartbeat", token=workload.token, json=beat).is_success
    again = {"hostname": HOST, "pid": 4242, "unixname": "airlock"}  # a lost answer, asked again
    assert api.patch(f"/task-instances/{ti_id}/run", token=workload.token, json=again).is_success
    done = api.patch(
        f"/task-instances/{ti_id}/state", token=workload.token, json={"state": "success"}
    )
    assert done.status_code == 204


@pytest.mark.parametrize("missing", [{"pid": 1}, {"unixname": "u"}, {}])
def test_a_claim_that_starts_must_name_its_process(api, db, credentials, stored_dag, missing):
    """Starting tries without the pid and user that run them is refused, and claims nothing."""
    ti_id = _queued(db)
    answer = _claim(api, credentials.mint("w1", lifetime=60), start=True, **missing)
    assert answer.status_code == 422
    assert answer.json()["detail"]["reason"] == "invalid_claim"
    assert db.ti(ti_id).claimed_by is None


def test_a_try_is_claimed_once_and_only_from_the_requested_queues(api, db, credentials, stored_dag):
    """A second claim does not get the same try; tries of other queues are left alone."""
    token = credentials.mint("w1", lifetime=60)
    first = _queued(db, task_id="task", priority_weight=1)
    _queued(db, task_id="other_queue", queue="gpu")
    (claimed,) = msgspec.json.decode(
        _claim(api, token).content, type=WorkloadClaimResponse
    ).workloads
    assert claimed.ti.id == first
    assert (
        msgspec.json.decode(_claim(api, token).content, type=WorkloadClaimResponse).workloads == []
    )


def test_claims_prefer_higher_priority_and_respect_slots(api, db, credentials, stored_dag):
    """With fewer slots than queued tries, the highest priority_weight goes first."""
    now = datetime.now(UTC)
    db.dag_run()
    low = _queued(db, task_id="task", priority_weight=1, queued_at=now - timedelta(seconds=5))
    high = _queued(db, task_id="task2", priority_weight=10, queued_at=now)
    answer = _claim(api, credentials.mint("w1", lifetime=60), slots=1)
    (claimed,) = msgspec.json.decode(answer.content, type=WorkloadClaimResponse).workloads
    assert claimed.ti.id == high
    assert db.ti(low).claimed_at is None


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        (None, 401, "missing_token"),
        ("not-a-jwt", 403, "invalid_token"),
    ],
)
def test_claims_without_a_valid_credential_are_refused(api, stored_dag, token, status, reason):
    """A claim without a worker credential, or with garbage, is refused."""
    answer = _claim(api, token)
    assert answer.status_code == status
    assert answer.json()["detail"]["reason"] == reason


def test_a_task_token_is_not_a_worker_credential(api, db, signer, stored_dag):
    """A task instance's own token cannot claim work."""
    ti_id = _queued(db)
    answer = _claim(api, signer.mint(ti_id, scope="execution"))
    assert answer.status_code == 403
    assert answer.json()["detail"]["reason"] == "invalid_token"


def test_an_app_without_worker_credentials_refuses_workers(client, credentials):
    """An API built without worker credentials says so instead of accepting any token."""
    answer = _claim(client, credentials.mint("w1", lifetime=60))
    assert answer.status_code == 403
    assert answer.json()["detail"]["reason"] == "workers_disabled"


def test_release_hands_back_running_tries_of_the_worker_s_host(api, db, credentials):
    """A released running try is archived and scheduled again under a new id; others are kept."""
    mine = db.running_task_instance(task_id="mine", hostname=HOST)
    theirs = db.running_task_instance(task_id="theirs", hostname="elsewhere")
    answer = api.post(
        "/workloads/release",
        token=credentials.mint("w1", lifetime=60),
        json={"hostname": HOST, "ti_ids": [mine, theirs]},
    )
    assert answer.json() == {"released": [mine]}
    assert db.ti(mine) is None
    archived = db.history(mine)
    assert archived.state == TaskInstanceState.UP_FOR_RETRY
    assert "handed back by worker w1" in archived.failure_reason
    assert db.ti_of(task_id="mine").state == TaskInstanceState.SCHEDULED
    assert db.ti(theirs).state == TaskInstanceState.RUNNING


def _wait(api, token, *queues, timeout=5):
    query = "&".join(f"queue={queue}" for queue in queues)
    started = time.monotonic()
    response = api.get(f"/workloads/wait?{query}&timeout={timeout}", token=token)
    return response, time.monotonic() - started


def test_wait_answers_at_once_when_work_is_queued(api, db, credentials, stored_dag):
    """A worker asking for work while a try is queued hears so without waiting."""
    _queued(db)
    response, elapsed = _wait(api, credentials.mint("w1", lifetime=60), "default")
    assert response.status_code == 200
    assert response.json() == {"ready": True}
    assert elapsed < 1


def test_wait_wakes_when_another_process_queues_a_try(api, db, credentials, stored_dag):
    """A long poll is answered within moments of a try being queued by someone else."""
    timer = threading.Timer(0.3, _queued, args=(db,))
    timer.start()
    try:
        response, elapsed = _wait(api, credentials.mint("w1", lifetime=60), "default", timeout=10)
    finally:
        timer.join()
    assert response.json() == {"ready": True}
    assert 0.25 < elapsed < 3


def test_wait_times_out_when_only_other_queues_get_work(api, db, credentials, stored_dag):
    """Work queued elsewhere does not end the wait; it answers not ready after its timeout."""
    timer = threading.Timer(0.1, _queued, args=(db,), kwargs={"queue": "gpu"})
    timer.start()
    try:
        response, elapsed = _wait(api, credentials.mint("w1", lifetime=60), "default", timeout=0.6)
    finally:
        timer.join()
    assert response.json() == {"ready": False}
    assert elapsed >= 0.6


@pytest.mark.parametrize("query", ["timeout=1", "queue=default&timeout=31", "queue=a&timeout=-1"])
def test_wait_refuses_bad_queries(api, credentials, query):
    """No queue, or a timeout outside 0..30 s, is a 422."""
    response = api.get(f"/workloads/wait?{query}", token=credentials.mint("w1", lifetime=60))
    assert response.status_code == 422


def test_wait_needs_a_worker_credential(api, signer):
    """A task token cannot long-poll for work."""
    response = api.get(
        "/workloads/wait?queue=default&timeout=0", token=signer.mint("ti", scope="execution")
    )
    assert response.status_code == 403
