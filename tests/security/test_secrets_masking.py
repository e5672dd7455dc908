"""Secrets never reach a try's log, its rendered fields or its failure reason, end to end.

The secrets come every way a task meets them: a connection and a Variable from the runner's
environment, a sensitive Variable served by the API, one the task sets itself, and values the
task registers with ``mask_secret``. The task prints each in the spellings docs/guarantees.md
lists (raw, JSON, repr, URL-encoded, base64, line by line) and fails with one in its message.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from urllib.parse import quote

from tests.support import by_task, read_log

from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.db.models import RenderedTaskInstanceFields

CONN_PASSWORD = "s3cr3t-Pass/word!"
CONN_EXTRA_KEY = "extra-api-key-123"
ENV_TOKEN = "env-token-9f8e7d6c5b"
SET_PASSWORD = "set-by-task-77q"
RUNTIME_SECRET = "runtime-vault-secret"
NESTED_SECRET = "deep-nested-secret-42"
KEY_LINES = ["LINE-ONE-abcdef0123", "LINE-TWO-ghijkl4567"]
PRIVATE_KEY = "-----BEGIN KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END KEY-----"
EVERY_SECRET = [
    CONN_PASSWORD,
    CONN_EXTRA_KEY,
    ENV_TOKEN,
    SET_PASSWORD,
    RUNTIME_SECRET,
    NESTED_SECRET,
    *KEY_LINES,
]

MASKING_DAG = f"""
import base64
from urllib.parse import quote
from airlock import mask_secret
from airlock.operators.python import PythonOperator

def show(*values):
    for value in values:
        print("raw:", value)
        print("json:", json.dumps({{"value": value, "quote": '"' + value}}))
        print("repr:", repr({{"value": value}}), repr([value + "'"]))
        print("url:", quote(value, safe=""))
        print("b64:", base64.b64encode(value.encode()).decode())
        logging.getLogger("task.secrets").info("logged %s", value)

with DAG("masking") as dag:
    @task
    def writer():
        conn = Connection.get("warehouse")
        Variable.set("db_password", {SET_PASSWORD!r})
        mask_secret({RUNTIME_SECRET!r})
        mask_secret({{"nested": [{NESTED_SECRET!r}], "count": 3}})
        mask_secret({PRIVATE_KEY!r})
        show(conn.password, conn.extra_dejson["api_key"], Variable.get("service_token"))
        show({SET_PASSWORD!r}, {RUNTIME_SECRET!r}, {NESTED_SECRET!r})
        print({PRIVATE_KEY!r})
        sys.stderr.write(conn.get_uri() + "\\n")

    @task
    def reader():
        show(Variable.get("db_password"))

    @task
    def failer():
        raise ValueError("could not log in with " + Connection.get("warehouse").password)

    render = PythonOperator(
        task_id="render",
        python_callable=lambda header: None,
        op_kwargs={{"header": "Bearer {{{{ var.value.service_token }}}}"}},
    )

    writer() >> reader() >> failer()
"""


def test_no_secret_reaches_the_logs_rendered_fields_or_failure_reason(
    write_dag, run_dag, fast_settings, monkeypatch
):
    """Every secret, in every covered spelling, is *** in logs, rendered fields and reasons."""
    monkeypatch.setenv(
        "AIRLOCK_CONN_WAREHOUSE",
        f"postgres://ann:{quote(CONN_PASSWORD, safe='')}@db.example/dw?api_key={CONN_EXTRA_KEY}",
    )
    monkeypatch.setenv("AIRLOCK_VAR_SERVICE_TOKEN", ENV_TOKEN)
    fast_settings.home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{fast_settings.home}/masking.db"
    engine = create_db_engine(url)
    upgrade(engine)
    settings = replace(fast_settings, database_url=url)
    report = run_dag(write_dag(MASKING_DAG), settings=settings)
    tis = by_task(report)
    assert tis["writer"].state == "success"
    assert tis["reader"].state == "success"
    logs = {task_id: read_log(settings, report, task_id) for task_id in tis if task_id != "failer"}
    logs["failer"] = read_log(settings, report, "failer")
    everything = "\n".join(logs.values())
    for secret in EVERY_SECRET:
        for spelling in _spellings(secret):
            assert spelling not in everything, (secret, spelling)
    assert everything.count("***") > 50
    assert tis["failer"].reason == "ValueError: could not log in with ***"
    with make_session_factory(engine)() as session:
        rendered = {
            row.task_id: row.rendered_fields for row in session.query(RenderedTaskInstanceFields)
        }
    engine.dispose()
    assert rendered["render"]["op_kwargs"] == {"header": "Bearer ***"}


def _spellings(secret: str) -> list[str]:
    return [
        secret,
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
    ]
