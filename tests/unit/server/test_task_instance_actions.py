from datetime import UTC, datetime

from sqlalchemy import select

from airlock.db.models import RenderedTaskInstanceFields
from airlock.states import DagRunState, TaskInstanceState


def _reason(response) -> str:
    return response.json()["detail"]["reason"]


def test_skip_downstream_skips_only_unstarted_tasks_of_the_same_run(client, db, running):
    """Only task instances of the caller's run that have not started are marked skipped."""
    waiting = db.task_instance(task_id="waiting", state=None)
    scheduled = db.task_instance(task_id="scheduled", state=TaskInstanceState.SCHEDULED)
    started = db.task_instance(task_id="started", state=TaskInstanceState.RUNNING)
    done = db.task_instance(task_id="done", state=TaskInstanceState.SUCCESS)
    elsewhere = db.task_instance(run_id="other", task_id="waiting", state=None)
    body = {"tasks": ["waiting", "scheduled", "started", "done", "task"]}
    response = client.patch(
        f"/task-instances/{running.id}/skip-downstream", json=body, token=running.token
    )
    assert response.status_code == 204
    states = {ti_id: db.ti(ti_id).state for ti_id in (waiting, scheduled, started, done, elsewhere)}
    assert states == {
        waiting: "skipped",
        scheduled: "skipped",
        started: "running",
        done: "success",
        elsewhere: None,
    }
    assert db.ti(running.id).state == "running"


def test_skip_downstream_by_task_and_map_index(client, db, running):
    """A [task_id, map_index] pair skips that one mapped task instance."""
    first = db.task_instance(task_id="mapped", state=None, map_index=0)
    second = db.task_instance(task_id="mapped", state=None, map_index=1)
    body = {"tasks": [["mapped", 1]]}
    client.patch(f"/task-instances/{running.id}/skip-downstream", json=body, token=running.token)
    assert (db.ti(first).state, db.ti(second).state) == (None, "skipped")


def test_skip_downstream_needs_the_callers_own_running_token(client, db, signer, running):
    """A token for another task instance, or for one not running, is refused."""
    other = db.task_instance(task_id="other", state=TaskInstanceState.QUEUED)
    body = {"tasks": ["other"]}
    wrong = client.patch(
        f"/task-instances/{running.id}/skip-downstream",
        json=body,
        token=signer.mint(other, scope="execution"),
    )
    assert (wrong.status_code, _reason(wrong)) == (403, "wrong_task_instance")
    idle = client.patch(
        f"/task-instances/{other}/skip-downstream",
        json=body,
        token=signer.mint(other, scope="execution"),
    )
    assert (idle.status_code, _reason(idle)) == (403, "task_instance_not_running")


def test_rendered_fields_are_stored_once_per_try(client, db, session_factory, running):
    """Putting rendered fields twice keeps one row for the try, holding the latest fields."""
    path = f"/task-instances/{running.id}/rendered-fields"
    assert client.put(path, json={"sql": "v1"}, token=running.token).status_code == 204
    assert client.put(path, json={"sql": "v2"}, token=running.token).status_code == 204
    with session_factory() as session:
        rows = list(session.scalars(select(RenderedTaskInstanceFields)))
    assert [(r.ti_id, r.rendered_fields, r.try_number) for r in rows] == [
        (running.id, {"sql": "v2"}, 1)
    ]


def test_rendered_fields_must_be_a_json_object(client, running):
    """A body that is not a JSON object is refused with 422."""
    path = f"/task-instances/{running.id}/rendered-fields"
    response = client.put(path, content=b"[1, 2]", token=running.token)
    assert (response.status_code, _reason(response)) == (422, "invalid_body")


def test_previous_successful_run_is_the_latest_earlier_success(client, db, signer):
    """The answer is the latest successful run logically before the caller's run, or empty."""
    day = lambda n: datetime(2026, 1, n, tzinfo=UTC)  # noqa: E731
    db.dag_run(
        run_id="r1",
        state=DagRunState.SUCCESS,
        logical_date=day(1),
        start_date=day(1),
        data_interval_start=day(1),
        data_interval_end=day(2),
    )
    db.dag_run(run_id="r2", state=DagRunState.FAILED, logical_date=day(2))
    db.dag_run(run_id="r4", state=DagRunState.SUCCESS, logical_date=day(4))
    db.dag_run(run_id="r3", state=DagRunState.RUNNING, logical_date=day(3))
    ti_id = db.running_task_instance(run_id="r3")
    token = signer.mint(ti_id, scope="execution")
    found = client.get(f"/task-instances/{ti_id}/previous-successful-dagrun", token=token).json()
    assert found["data_interval_start"].startswith("2026-01-01")
    assert found["data_interval_end"].startswith("2026-01-02")
    first = db.running_task_instance(run_id="r1", task_id="first")
    token = signer.mint(first, scope="execution")
    assert (
        client.get(f"/task-instances/{first}/previous-successful-dagrun", token=token).json() == {}
    )


def test_xcom_include_prior_dates_reads_earlier_runs(client, db, signer):
    """include_prior_dates=true answers with the latest value up to the run's logical date."""
    day = lambda n: datetime(2026, 1, n, tzinfo=UTC)  # noqa: E731
    for n in (1, 2, 3):
        db.dag_run(run_id=f"r{n}", logical_date=day(n))
    pushers = {n: db.running_task_instance(run_id=f"r{n}", task_id=f"t{n}") for n in (1, 3)}
    for n, ti_id in pushers.items():
        token = signer.mint(ti_id, scope="execution")
        db.update_ti(ti_id, task_id="pusher")
        client.post(f"/xcoms/dag/r{n}/pusher/k", content=f'"{n}"'.encode(), token=token)
    reader = db.running_task_instance(run_id="r2", task_id="reader")
    token = signer.mint(reader, scope="execution")
    path = "/xcoms/dag/r2/pusher/k"
    assert client.get(path, token=token).status_code == 404
    assert client.get(f"{path}?include_prior_dates=true", token=token).content == b'"1"'
