import pytest
from sqlalchemy import select

from airlock.db.models import XCom
from airlock.server.xcom_length import value_length


def _push_mapped(client, db, signer, values, *, task_id="mapper"):
    """Push one return value per map index, each from its own running task instance."""
    for index, value in enumerate(values):
        if value is None:
            continue
        ti = db.running_task_instance(task_id=task_id, map_index=index)
        token = signer.mint(ti, scope="execution")
        url = f"/xcoms/dag/run/{task_id}/return_value?map_index={index}"
        assert client.post(url, content=value, token=token).status_code == 201


SEQ = "/xcom-sequences/dag/run/mapper/return_value"


def test_the_sequence_holds_the_mapped_values_in_map_index_order(client, db, signer, running):
    """A full read returns every stored value in map index order, and their count."""
    _push_mapped(client, db, signer, [b"10", None, b'"c"', b"[1]"])
    response = client.get(SEQ, token=running.token)
    assert response.status_code == 200
    assert response.json() == {"length": 3, "values": [10, "c", [1]]}


@pytest.mark.parametrize(
    "case",
    [
        ("stop=0", []),
        ("start=1&stop=2", [1]),
        ("start=-1", [4]),
        ("step=2", [0, 2, 4]),
        ("start=4&stop=0&step=-2", [4, 2]),
        ("start=9", []),
    ],
)
def test_a_slice_selects_values_like_python(client, db, signer, running, case):
    """start/stop/step select values as a Python slice of the sequence does."""
    query, expected = case
    _push_mapped(client, db, signer, [str(i).encode() for i in range(5)])
    body = client.get(f"{SEQ}?{query}", token=running.token).json()
    assert body["length"] == 5
    assert body.get("values", []) == expected  # an empty slice leaves the field out


def test_a_zero_step_is_refused(client, running):
    """step=0 is not a slice: 400 invalid_slice."""
    response = client.get(f"{SEQ}?step=0", token=running.token)
    assert response.status_code == 400
    assert response.json()["detail"]["reason"] == "invalid_slice"


def test_another_dags_sequence_is_forbidden(client, running):
    """A task may read the sequences of its own DAG only."""
    response = client.get("/xcom-sequences/other/run/mapper/return_value", token=running.token)
    assert response.status_code == 403


def test_storing_a_value_records_its_length(client, running, session_factory):
    """The server records how many items a stored list, tuple or dict holds, for the scheduler."""
    client.post("/xcoms/dag/run/task/listy", content=b"[1, 2, 3]", token=running.token)
    client.post("/xcoms/dag/run/task/scalar", content=b"7", token=running.token)
    with session_factory() as session:
        lengths = dict(session.execute(select(XCom.key, XCom.length)).all())
    assert lengths == {"listy": 3, "scalar": None}


@pytest.mark.parametrize(
    ("data", "length"),
    [
        (b"[]", 0),
        (b' [1, {"a": 2}]', 2),
        (b'{"a": 1, "b": 2}', 2),
        (b'{"__airlock_type__": "tuple", "value": [1, 2, 3]}', 3),
        (b'{"__airlock_type__": "set", "value": [1]}', None),
        (b'{"__airlock_type__": "datetime", "value": "2024-01-01"}', None),
        (b'"text"', None),
        (b"12", None),
        (b"null", None),
    ],
)
def test_value_length_counts_only_what_can_be_mapped_over(data, length):
    """Lists, dicts and tuples have a length; sets, scalars and other tagged values have none."""
    assert value_length(data) == length
