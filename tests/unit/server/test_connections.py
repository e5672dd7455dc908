from airlock.db.models import Connection


def test_a_connection_is_returned_with_its_secrets(client, db, running):
    """GET returns every field the task needs to connect, password included."""
    with db.session_factory.begin() as session:
        session.add(
            Connection(
                conn_id="warehouse",
                conn_type="postgres",
                host="db.example",
                schema="public",
                login="etl",
                password="s3cret",
                port=5432,
                extra='{"sslmode": "require"}',
                description="not sent",
            )
        )
    response = client.get("/connections/warehouse", token=running.token)
    assert response.status_code == 200
    assert response.json() == {
        "conn_id": "warehouse",
        "conn_type": "postgres",
        "host": "db.example",
        "schema": "public",
        "login": "etl",
        "password": "s3cret",
        "port": 5432,
        "extra": '{"sslmode": "require"}',
    }


def test_a_missing_connection_is_not_found(client, running):
    """GET of an undefined Connection answers 404 connection_not_found."""
    response = client.get("/connections/nope", token=running.token)
    assert response.status_code == 404
    assert response.json()["detail"]["reason"] == "connection_not_found"
