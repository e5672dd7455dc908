import pytest

OWN = "/xcoms/dag/run/task"


def _reason(response) -> str:
    return response.json()["detail"]["reason"]


def test_a_pushed_value_reads_back_byte_for_byte(client, running):
    """The stored JSON is returned exactly as sent: no envelope, no re-encoding."""
    value = b'{"b": 1,   "a": [1.50, "\\u00e9"]}'
    response = client.post(f"{OWN}/result", content=value, token=running.token)
    assert response.status_code == 201
    response = client.get(f"{OWN}/result", token=running.token)
    assert response.status_code == 200
    assert response.content == value
    assert response.headers["content-type"] == "application/json"


def test_pushing_again_replaces_the_value(client, running):
    """A second push under the same key replaces the first value."""
    client.post(f"{OWN}/k", content=b"1", token=running.token)
    assert client.post(f"{OWN}/k", content=b'"two"', token=running.token).status_code == 201
    assert client.get(f"{OWN}/k", token=running.token).content == b'"two"'


def test_a_missing_xcom_is_not_found(client, running):
    """Reading a key nobody pushed answers 404 xcom_not_found."""
    response = client.get(f"{OWN}/nothing", token=running.token)
    assert response.status_code == 404
    assert _reason(response) == "xcom_not_found"


def test_keys_may_contain_slashes(client, running):
    """A key with slashes is one key."""
    client.post(f"{OWN}/a/b/c", content=b"[1]", token=running.token)
    assert client.get(f"{OWN}/a/b/c", token=running.token).content == b"[1]"
    assert client.get(f"{OWN}/a", token=running.token).status_code == 404


def test_map_index_selects_the_mapped_task_instance(client, db, signer):
    """XComs of different map indexes of a task are kept apart."""
    ti_id = db.running_task_instance(map_index=3)
    token = signer.mint(ti_id, scope="execution")
    assert client.post(f"{OWN}/k?map_index=3", content=b"3", token=token).status_code == 201
    assert client.get(f"{OWN}/k?map_index=3", token=token).content == b"3"
    assert client.get(f"{OWN}/k", token=token).status_code == 404


def test_a_bad_map_index_is_an_invalid_request(client, running):
    """A map_index that is not an integer answers 422 invalid_request, as an ErrorBody."""
    response = client.get(f"{OWN}/k?map_index=first", token=running.token)
    assert response.status_code == 422
    assert _reason(response) == "invalid_request"
    assert "map_index" in response.json()["detail"]["message"]


@pytest.mark.parametrize("body", [b"{oops", b"", b"[1] 2", b"\xff", b'"\xff"', b"NaN"])
def test_a_value_that_is_not_json_is_refused(client, running, body):
    """A body that is not valid JSON answers 400 invalid_xcom_value and stores nothing."""
    response = client.post(f"{OWN}/k", content=body, token=running.token)
    assert response.status_code == 400
    assert _reason(response) == "invalid_xcom_value"
    assert client.get(f"{OWN}/k", token=running.token).status_code == 404


def test_an_empty_key_is_refused(client, running):
    """An XCom key cannot be empty: 400."""
    response = client.post(f"{OWN}/", content=b"1", token=running.token)
    assert response.status_code == 400
    assert _reason(response) == "invalid_xcom_key"


def test_a_value_over_the_limit_is_refused_with_both_sizes(make_client, running):
    """A value larger than xcom_max_bytes answers 413 naming its size and the limit."""
    client = make_client(xcom_max_bytes=10)
    response = client.post(f"{OWN}/k", content=b'"' + b"x" * 20 + b'"', token=running.token)
    assert response.status_code == 413
    assert _reason(response) == "xcom_too_large"
    assert "22 bytes" in response.json()["detail"]["message"]
    assert "10 bytes" in response.json()["detail"]["message"]
    assert client.post(f"{OWN}/k", content=b'"small"', token=running.token).status_code == 201


def test_a_streamed_value_over_the_limit_is_refused(make_client, running):
    """A value sent without Content-Length is measured as it arrives and refused past the limit."""

    async def chunks():
        for _ in range(5):
            yield b"[1,2,3,4]"

    client = make_client(xcom_max_bytes=10)
    response = client.post(f"{OWN}/k", content=chunks(), token=running.token)
    assert response.status_code == 413
    assert "45 bytes" in response.json()["detail"]["message"]


def test_a_task_cannot_write_another_tasks_xcom(client, running):
    """Writing or deleting an XCom of another task, run, DAG or map index answers 403."""
    for path in (
        "/xcoms/dag/run/other/k",
        "/xcoms/dag/other-run/task/k",
        "/xcoms/other-dag/run/task/k",
        "/xcoms/dag/run/task/k?map_index=1",
    ):
        for method in ("POST", "DELETE"):
            response = client.request(method, path, content=b"1", token=running.token)
            assert response.status_code == 403, (method, path)
            assert _reason(response) == "forbidden_xcom"


def test_a_task_reads_the_xcoms_of_its_dag(client, db, signer, running):
    """A task may read what an upstream task of the same DAG pushed."""
    upstream = db.running_task_instance(task_id="upstream")
    client.post(
        "/xcoms/dag/run/upstream/k", content=b"42", token=signer.mint(upstream, scope="execution")
    )
    assert client.get("/xcoms/dag/run/upstream/k", token=running.token).content == b"42"


def test_a_task_cannot_read_the_xcoms_of_another_dag(client, db, signer, running):
    """Reading an XCom of another DAG answers 403 forbidden_xcom."""
    other = db.running_task_instance(dag_id="other-dag")
    client.post(
        "/xcoms/other-dag/run/task/k", content=b"1", token=signer.mint(other, scope="execution")
    )
    response = client.get("/xcoms/other-dag/run/task/k", token=running.token)
    assert response.status_code == 403
    assert _reason(response) == "forbidden_xcom"


def test_deleting_removes_the_value(client, running):
    """DELETE answers 204 and the key then reads as missing; deleting again is fine."""
    client.post(f"{OWN}/k", content=b"1", token=running.token)
    assert client.delete(f"{OWN}/k", token=running.token).status_code == 204
    assert client.get(f"{OWN}/k", token=running.token).status_code == 404
    assert client.delete(f"{OWN}/k", token=running.token).status_code == 204
