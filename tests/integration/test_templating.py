"""Template fields are rendered with Jinja in the runner, and stored (masked) for each try."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tests.support import by_task

from airlock.cli.main import main
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.db.models import Connection as ConnectionRow
from airlock.db.models import RenderedTaskInstanceFields

ECHO = """
class Echo(BaseOperator):
    template_fields = ("value",)
    template_ext = (".sql",)

    def __init__(self, *, value, **kwargs):
        super().__init__(**kwargs)
        self.value = value

    def execute(self, context):
        return self.value
"""


def _shared_settings(fast_settings):
    fast_settings.home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{fast_settings.home}/shared.db"
    engine = create_db_engine(url)
    upgrade(engine)
    return replace(fast_settings, database_url=url), make_session_factory(engine), engine


def test_context_values_macros_and_nested_fields_are_rendered(write_dag, run_dag):
    """Strings in template fields, nested in lists, tuples and dicts, render with the context."""
    path = write_dag(
        ECHO
        + """
with DAG("tmpl", params={"who": "world"}) as dag:
    Echo(task_id="echo", value={
        "greeting": "hi {{ params.who }}",
        "dates": ["{{ ds }}", "{{ ds_nodash }}", "{{ ts_nodash }}"],
        "pair": ["{{ run_id }}", "{{ ti.task_id }}"],
        "macro": "{{ macros.ds_add(ds, 7) }} {{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m') }}",
        "filter": "{{ logical_date | ds_nodash }}",
        "untouched": 3,
    })
"""
    )
    report = run_dag(path, logical_date=datetime(2026, 1, 5, tzinfo=UTC))
    value = by_task(report)["echo"].return_value
    assert value == {
        "greeting": "hi world",
        "dates": ["2026-01-05", "20260105", "20260105T000000"],
        "pair": [report.run_id, "echo"],
        "macro": "2026-01-12 05/01",
        "filter": "20260105",
        "untouched": 3,
    }


def test_task_arguments_are_templates_and_dag_macros_and_filters_apply(write_dag, run_dag):
    """@task arguments render too, with user_defined_macros and user_defined_filters."""
    path = write_dag(
        """
with DAG("macros", user_defined_macros={"triple": lambda x: x * 3},
         user_defined_filters={"shout": lambda s: s.upper() + "!"}) as dag:
    @task
    def show(text, number):
        return [text, number]

    show("{{ triple(2) }} {{ 'hey' | shout }}", 5)
"""
    )
    assert by_task(run_dag(path))["show"].return_value == ["6 HEY!", 5]


def test_native_rendering_gives_python_objects(write_dag, run_dag):
    """With render_template_as_native_obj, a template rendering a list gives a list."""
    path = write_dag(
        ECHO
        + """
with DAG("native", render_template_as_native_obj=True) as dag:
    Echo(task_id="echo", value="{{ [1, 2] + [3] }}")
"""
    )
    assert by_task(run_dag(path))["echo"].return_value == [1, 2, 3]


def test_template_files_are_read_from_the_search_path(write_dag, run_dag, tmp_path):
    """A field ending in a template_ext suffix is loaded from template_searchpath and rendered."""
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "query.sql").write_text("SELECT * FROM t WHERE day = '{{ ds }}'")
    path = write_dag(
        ECHO
        + f"""
with DAG("files", template_searchpath=[{str(folder)!r}]) as dag:
    Echo(task_id="echo", value="query.sql")
"""
    )
    report = run_dag(path, logical_date=datetime(2026, 2, 3, tzinfo=UTC))
    assert by_task(report)["echo"].return_value == "SELECT * FROM t WHERE day = '2026-02-03'"


def test_variables_and_connections_are_reachable_from_templates(write_dag, run_dag, monkeypatch):
    """var.value, var.json and conn read Variables and Connections in templates."""
    monkeypatch.setenv("AIRLOCK_VAR_REGION", "eu")
    monkeypatch.setenv("AIRLOCK_VAR_SETTINGS", '{"size": 4}')
    monkeypatch.setenv("AIRLOCK_CONN_WAREHOUSE", "postgres://ann@db.example:5433/dw")
    path = write_dag(
        ECHO
        + """
with DAG("lookups") as dag:
    Echo(task_id="echo", value=(
        "{{ var.value.region }} {{ var.json.settings.size }} {{ conn.warehouse.host }} "
        "{{ var.value.get('missing', 'fallback') }}"
    ))
"""
    )
    assert by_task(run_dag(path))["echo"].return_value == "eu 4 db.example fallback"


def test_undefined_name_fails_the_task_naming_the_field(write_dag, run_dag):
    """An undefined name fails the try (StrictUndefined), and the reason names task and field."""
    path = write_dag(
        ECHO
        + """
with DAG("undefined") as dag:
    Echo(task_id="echo", value="{{ no_such_name }}")
"""
    )
    ti = by_task(run_dag(path))["echo"]
    assert ti.state == "failed"
    assert "task 'echo': template field 'value' could not be rendered" in ti.reason
    assert "'no_such_name' is undefined" in ti.reason


def test_rendered_fields_are_stored_masked_and_printed_by_the_cli(
    write_dag, run_dag, fast_settings, monkeypatch, capsys
):
    """Rendered fields land in the database with secrets masked; `tasks render` prints them."""
    settings, sessions, engine = _shared_settings(fast_settings)
    with sessions.begin() as session:
        session.add(ConnectionRow(conn_id="crm", conn_type="http", password="hunter2-secret"))
    path = write_dag(
        ECHO
        + """
with DAG("stored") as dag:
    Echo(task_id="echo", value={
        "url": "https://u:{{ conn.crm.password }}@crm/{{ ds }}",
        "api_token": "plain-but-sensitive",
    })
    Echo(task_id="long", value="{{ 'x' * 5000 }}")
"""
    )
    report = run_dag(path, settings=settings, logical_date=datetime(2026, 3, 1, tzinfo=UTC))
    assert by_task(report)["echo"].state == "success"
    with sessions() as session:
        rows = {r.task_id: r for r in session.query(RenderedTaskInstanceFields)}
    engine.dispose()
    row = rows["echo"]
    stored = row.rendered_fields["value"]
    assert stored == {"url": "https://u:***@crm/2026-03-01", "api_token": "***"}
    long_value = rows["long"].rendered_fields["value"]
    assert len(long_value) == 4096
    assert long_value.startswith("Truncated")
    assert (row.task_id, row.try_number, row.run_id) == ("echo", 1, report.run_id)
    monkeypatch.setenv("AIRLOCK_DATABASE_URL", settings.database_url)
    assert main(["tasks", "render", "stored", "echo", "--run-id", report.run_id]) == 0
    out = capsys.readouterr().out
    assert "# property: value" in out
    assert "https://u:***@crm/2026-03-01" in out
    assert "hunter2-secret" not in out


def test_python_operator_templates_dict_and_op_kwargs_are_rendered(write_dag, run_dag):
    """PythonOperator renders templates_dict and op_kwargs and hands templates_dict over."""
    path = write_dag(
        """
from airlock import PythonOperator
def report(day, templates_dict=None):
    return [day, templates_dict["query"]]

with DAG("python_templates") as dag:
    PythonOperator(task_id="report", python_callable=report, op_kwargs={"day": "{{ ds }}"},
                   templates_dict={"query": "SELECT * FROM t WHERE d = '{{ ds_nodash }}'"})
"""
    )
    report = run_dag(path, logical_date=datetime(2026, 7, 8, tzinfo=UTC))
    assert by_task(report)["report"].return_value == [
        "2026-07-08",
        "SELECT * FROM t WHERE d = '20260708'",
    ]
