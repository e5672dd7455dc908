from airlock.states import TaskInstanceState


def test_a_variable_can_be_written_read_replaced_and_deleted(client, running):
    """PUT creates or replaces a Variable, GET reads it, DELETE removes it."""
    body = {"value": "v1", "description": "first"}
    assert client.put("/variables/conf/path", json=body, token=running.token).status_code == 204
    response = client.get("/variables/conf/path", token=running.token)
    assert response.status_code == 200
    assert response.json() == {"key": "conf/path", "value": "v1", "description": "first"}
    client.put("/variables/conf/path", json={"value": "v2"}, token=running.token)
    assert client.get("/variables/conf/path", token=running.token).json() == {
        "key": "conf/path",
        "value": "v2",
    }
    assert client.delete("/variables/conf/path", token=running.token).status_code == 204
    assert client.get("/variables/conf/path", token=running.token).status_code == 404


def test_a_missing_variable_is_not_found(client, running):
    """Reading a Variable that does not exist answers 404 variable_not_found."""
    response = client.get("/variables/nope", token=running.token)
    assert response.status_code == 404
    assert response.json()["detail"]["reason"] == "variable_not_found"


def test_deleting_a_missing_variable_succeeds(client, running):
    """DELETE of a Variable that does not exist still answers 204."""
    assert client.delete("/variables/nope", token=running.token).status_code == 204


def test_a_variable_body_must_match_the_model(client, running):
    """A PUT body without a string value answers 422 invalid_body."""
    response = client.put("/variables/k", json={"value": 3}, token=running.token)
    assert response.status_code == 422
    assert response.json()["detail"]["reason"] == "invalid_body"


def test_an_empty_variable_key_is_refused(client, running):
    """A Variable key cannot be empty: 400."""
    response = client.put("/variables/", json={"value": "v"}, token=running.token)
    assert response.status_code == 400


def test_only_a_running_task_instance_may_use_variables(client, db, signer):
    """A queued or finished task instance's token is refused with 403."""
    for state in (TaskInstanceState.QUEUED, TaskInstanceState.FAILED):
        ti_id = db.task_instance(state=state, task_id=str(state))
        token = signer.mint(ti_id, scope="execution")
        response = client.put("/variables/k", json={"value": "v"}, token=token)
        assert response.status_code == 403
        assert response.json()["detail"]["reason"] == "task_instance_not_running"
