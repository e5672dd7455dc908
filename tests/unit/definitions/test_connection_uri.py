import pytest

from airlock.definitions.connection import Connection
from airlock.exceptions import TaskRuntimeError


@pytest.mark.parametrize(
    ("uri", "fields"),
    [
        (
            "postgres://ann:s3cr%40t@DB.example:5433/dw?sslmode=require",
            ("postgres", "db.example", "ann", "s3cr@t", 5433, "dw", '{"sslmode": "require"}'),
        ),
        ("postgresql://h", ("postgres", "h", None, None, None, None, None)),
        (
            "google-cloud-platform://?__extra__=%7B%22a%22%3A+1%7D",
            ("google_cloud_platform", None, None, None, None, None, '{"a": 1}'),
        ),
        ("http://https%3A%2F%2Fapi.example", ("http", "https://api.example", *[None] * 5)),
        (
            "http://https://api.example:443/v1",
            ("http", "https://api.example", None, None, 443, "v1", None),
        ),
        ("mysql://:pw@/db", ("mysql", None, None, "pw", None, "db", None)),
    ],
)
def test_airflow_connection_uris_parse_as_airflow_reads_them(uri, fields):
    """Each part of an Airflow connection URI lands in the field Airflow puts it in."""
    conn = Connection.from_uri("c", uri)
    got = (conn.conn_type, conn.host, conn.login, conn.password, conn.port, conn.schema)
    assert (*got, conn.extra) == fields


@pytest.mark.parametrize(
    "uri",
    [
        "postgres://ann:s3cr%40t@db.example:5433/dw?sslmode=require",
        "google-cloud-platform:///?__extra__=%7B%22a%22%3A+1%7D",
        "http://https://api.example:443/v1",
        "aws://@:9000",
    ],
)
def test_get_uri_writes_what_from_uri_reads(uri):
    """get_uri renders the URI Airflow would, so parsing it again gives the same connection."""
    conn = Connection.from_uri("c", uri)
    assert conn.get_uri() == uri
    assert Connection.from_uri("c", conn.get_uri()) == conn


def test_nested_extra_travels_whole_in_the_extra_parameter():
    """An extra that is not a flat dict of strings is carried as __extra__ JSON."""
    conn = Connection(conn_id="c", conn_type="http", host="h", extra='{"retries": 3}')
    assert conn.get_uri() == "http://h/?__extra__=%7B%22retries%22%3A+3%7D"
    assert Connection.from_uri("c", conn.get_uri()).extra_dejson == {"retries": 3}


def test_accessors_and_hooks():
    """get_password and get_extra return the fields; get_hook says hooks come from providers."""
    conn = Connection(conn_id="c", conn_type="http", password="pw", extra='{"a": "b"}')
    assert (conn.get_password(), conn.get_extra(), conn.extra_dejson) == (
        "pw",
        '{"a": "b"}',
        {"a": "b"},
    )
    with pytest.raises(TaskRuntimeError, match="airlock has no hooks"):
        conn.get_hook()


def test_text_that_is_not_a_uri_is_refused():
    """A value without a scheme is not taken for a connection URI."""
    with pytest.raises(ValueError, match="is not a connection URI"):
        Connection.from_uri("c", "just-a-host")
