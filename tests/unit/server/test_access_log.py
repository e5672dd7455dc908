"""Access logs: one JSON line per request, with a correlation id, and never the token."""

from __future__ import annotations

import io
import json

from airlock.server.access_log import AccessLogMiddleware
from airlock.service_log import service_logger


def _lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_request_is_logged_with_its_correlation_id(make_client):
    """A request's method, path, status, duration and request id are logged; the id is echoed."""
    stream = io.StringIO()
    client = make_client()
    client._client._transport.app.add_middleware(
        AccessLogMiddleware, logger=service_logger("airlock.access", stream)
    )
    answer = client.get("/health", headers={"X-Request-ID": "abc-123"}, token="secret-token")
    assert answer.headers["x-request-id"] == "abc-123"
    (line,) = _lines(stream)
    assert line["event"] == "request"
    assert (line["method"], line["path"], line["status"]) == (
        "GET",
        "/execution/api/v1/health",
        200,
    )
    assert line["request_id"] == "abc-123"
    assert line["duration_ms"] >= 0
    assert "secret-token" not in stream.getvalue()
    assert "authorization" not in stream.getvalue().lower()


def test_a_missing_or_odd_request_id_is_replaced_by_a_fresh_one(make_client):
    """Without a sane X-Request-ID the server makes one up, and answers with it."""
    stream = io.StringIO()
    client = make_client()
    client._client._transport.app.add_middleware(
        AccessLogMiddleware, logger=service_logger("airlock.access", stream)
    )
    answer = client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    generated = answer.headers["x-request-id"]
    assert len(generated) == 32
    assert _lines(stream)[0]["request_id"] == generated
