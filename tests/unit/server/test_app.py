from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

import msgspec
import pytest
import structlog
from sqlalchemy import text
from tests.unit.server.conftest import HOSTNAME, PID, ApiClient

from airlock.api.models import HealthResponse
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.exceptions import ConfigError
from airlock.server import create_app
from airlock.states import TaskInstanceState


def test_health_needs_no_token_and_names_the_version(client):
    """GET /health answers 200 with status healthy and the package version."""
    response = client.get("/health")
    assert response.status_code == 200
    health = msgspec.json.decode(response.content, type=HealthResponse)
    assert health.status == "healthy"
    assert health.version == version("airlock")


def test_an_unknown_route_answers_an_error_body(client):
    """A path no route matches answers 404 with an ErrorBody."""
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {
        "detail": {
            "reason": "not_found",
            "message": "no route matches GET /execution/api/v1/no/such/route",
        }
    }


def test_a_wrong_method_answers_an_error_body(client):
    """A method the route does not have answers 405 with an ErrorBody and Allow."""
    response = client.post("/health")
    assert response.status_code == 405
    assert response.json()["detail"]["reason"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


def test_an_unexpected_error_answers_500_with_a_correlation_id(client, engine, running):
    """A server fault answers 500 internal_error, logged with a correlation id but no token."""
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE variable"))
    with structlog.testing.capture_logs() as logs:
        response = client.get("/variables/k", token=running.token)
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert detail["reason"] == "internal_error"
    correlation_id = response.headers["Correlation-Id"]
    assert correlation_id in detail["message"]
    assert [entry["correlation_id"] for entry in logs] == [correlation_id]
    assert "variable" in logs[0]["traceback"]
    assert running.token not in repr(logs)


def test_a_database_that_cannot_be_reached_answers_503_to_retry(engine, signer, running, tmp_path):
    """A database that is away answers 503 database_unavailable with Retry-After, not 500.

    The log names the driver's error, never the statement or its parameters.
    """
    if engine.dialect.name == "sqlite":
        away_url = f"sqlite:///{tmp_path / 'no-such-folder' / 'airlock.db'}"
    else:
        away_url = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    away = create_db_engine(away_url)
    app = create_app(session_factory=make_session_factory(away), signer=signer)
    client = ApiClient(app)
    try:
        with structlog.testing.capture_logs() as logs:
            beat = {"hostname": HOSTNAME, "pid": PID}
            response = client.put(
                f"/task-instances/{running.id}/heartbeat", json=beat, token=running.token
            )
    finally:
        client.close()
        away.dispose()
    assert response.status_code == 503
    assert response.json()["detail"]["reason"] == "database_unavailable"
    assert response.headers["Retry-After"] == "1"
    (entry,) = logs
    assert entry["event"] == "the database is unavailable"
    assert "OperationalError" in entry["error"]
    assert "SELECT" not in entry["error"]
    assert "UPDATE" not in entry["error"]


def test_the_openapi_document_describes_the_models(client):
    """The served OpenAPI document holds the models' JSON Schemas and the routes refer to them."""
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"TIRunContext", "TIRunRequest", "ConnectionResponse", "ErrorBody"} <= set(schemas)
    assert "HTTPValidationError" not in schemas
    run = document["paths"]["/execution/api/v1/task-instances/{ti_id}/run"]["patch"]
    body_schema = run["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/TIRunRequest"}
    answer = run["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/TIRunContext"}
    conflict = run["responses"]["409"]["content"]["application/json"]["schema"]
    assert conflict == {"$ref": "#/components/schemas/ErrorBody"}


def test_every_schema_reference_resolves(client):
    """Every $ref in the OpenAPI document points at a component that exists."""
    document = client.get("/openapi.json").json()
    names = set(document["components"]["schemas"])
    refs = set()

    def collect(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for child in node.values():
                collect(child)
        elif isinstance(node, list):
            for child in node:
                collect(child)

    collect(document)
    assert refs
    assert refs <= names


def test_the_docs_page_is_served(client):
    """The interactive docs are served under the API prefix."""
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/execution/api/v1/openapi.json" in response.text


def test_a_non_positive_xcom_limit_is_refused(session_factory, signer):
    """create_app refuses an xcom_max_bytes that is not positive."""
    with pytest.raises(ConfigError, match="xcom_max_bytes"):
        create_app(session_factory=session_factory, signer=signer, xcom_max_bytes=0)


def test_racing_outcome_reports_have_exactly_one_winner(make_client, db, running):
    """Two outcomes reported at once for one try: one is recorded, the other answers 409."""
    clients = [make_client() for _ in range(2)]
    bodies = [{"state": "success"}, {"state": "failed", "reason": "race"}]

    def report(index):
        path = f"/task-instances/{running.id}/state"
        return clients[index].patch(path, json=bodies[index], token=running.token).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = sorted(pool.map(report, range(2)))
    assert codes == [204, 409]
    assert db.ti(running.id).state in {TaskInstanceState.SUCCESS, TaskInstanceState.FAILED}
