import subprocess
import sys
from collections import namedtuple

import pytest

from airlock.definitions.dag import DAG
from airlock.definitions.macros import ds_add, ds_format
from airlock.definitions.templating import Renderer, TemplateRenderError, render_template_fields
from airlock.execution.masking import SecretsMasker
from airlock.execution.rendered_fields import for_storage, to_json_safe
from airlock.operators.empty import EmptyOperator

Point = namedtuple("Point", "x y")  # noqa: PYI024 -- a plain namedtuple is what users pass


class Holder:
    """An object with template fields of its own, inside a task's template field."""

    template_fields = ("inner",)

    def __init__(self, inner):
        self.inner = inner


def _task():
    with DAG("d"):
        return EmptyOperator(task_id="t")


def test_containers_keep_their_types_and_nested_objects_render():
    """Tuples, namedtuples, sets and dict values render in place; dict keys stay as they are."""
    renderer = Renderer(_task(), {"x": "1"})
    holder = Holder("{{ x }}")
    value = renderer.render(
        {"{{ x }}": ("{{ x }}", Point("{{ x }}", 2), {"{{ x }}"}), "obj": holder}
    )
    assert value == {"{{ x }}": ("1", Point("1", 2), {"1"}), "obj": holder}
    assert holder.inner == "1"


def test_a_falsy_rendering_leaves_the_field_alone():
    """A field that renders empty keeps its template, as in Airflow."""
    task = _task()
    task.template_fields = ("note",)
    task.note = "{{ '' }}"
    render_template_fields(task, {})
    assert task.note == "{{ '' }}"


def test_render_errors_name_the_task_and_field():
    """A failing template raises TemplateRenderError naming the task, field and template."""
    task = _task()
    task.template_fields = ("note",)
    task.note = "{{ missing }}"
    with pytest.raises(TemplateRenderError, match="task 't': template field 'note'"):
        render_template_fields(task, {})


def test_the_sandbox_blocks_dunder_attributes():
    """Templates cannot reach dunder attributes (the sandbox), but may read _private ones."""
    renderer = Renderer(_task(), {"h": Holder("x")})
    assert renderer.render("{{ h._private_ok | default('none') }}") == "none"
    with pytest.raises(Exception, match="unsafe"):
        renderer.render("{{ h.__class__.__mro__ }}")


def test_macros():
    """ds_add and ds_format shift and reformat date stamps."""
    assert ds_add("2026-01-05", -5) == "2025-12-31"
    assert ds_format("2026-01-05", "%Y-%m-%d", "%m-%d-%y") == "01-05-26"


def test_stored_fields_are_masked_before_they_are_cut():
    """Secrets are masked first, then over-long fields are cut with a note."""
    masker = SecretsMasker()
    masker.add("topsecret99")
    fields = to_json_safe({"cmd": "pw=topsecret99", "password": "abc", "long": "y" * 100})
    stored = for_storage(fields, masker, 60)
    assert stored["cmd"] == "pw=***"
    assert stored["password"] == "***"
    assert stored["long"].startswith("Truncated")
    assert len(stored["long"]) == 60


def test_a_task_without_strings_to_render_does_not_load_jinja():
    """Rendering values with no string in them never imports Jinja (the runner stays light)."""
    code = (
        "import sys\n"
        "from airlock import DAG, EmptyOperator\n"
        "from airlock.definitions.templating import Renderer\n"
        "with DAG('d'):\n"
        "    t = EmptyOperator(task_id='t')\n"
        "Renderer(t, {}).render([1, {'a': 2}, (3,)])\n"
        "print('jinja2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
