import pytest

from airlock.definitions.dag import DAG, collect_dags, current_dag, dag
from airlock.exceptions import CycleError, DagDefinitionError, DuplicateTaskIdError
from airlock.operators.empty import EmptyOperator


def test_operators_created_in_with_block_join_the_dag():
    """Operators created inside `with DAG(...)` are added to that DAG in creation order."""
    with DAG("etl") as etl:
        EmptyOperator(task_id="extract")
        EmptyOperator(task_id="load")
    assert etl.task_ids == ["extract", "load"]
    assert etl.get_task("load").dag is etl


def test_nested_with_blocks_use_the_innermost_dag():
    """In nested `with DAG` blocks an operator joins the innermost DAG; the outer resumes after."""
    with DAG("outer") as outer:
        with DAG("inner") as inner:
            EmptyOperator(task_id="a")
        EmptyOperator(task_id="b")
    assert inner.task_ids == ["a"]
    assert outer.task_ids == ["b"]
    assert current_dag() is None


def test_dag_stores_airflow_settings_as_attributes():
    """Every Airflow DAG keyword is kept as an attribute of the same name."""
    d = DAG("settings", schedule="@daily", max_active_runs=2, tags=["a", "b"], catchup=True)
    assert (d.schedule, d.max_active_runs, d.catchup, d.tags) == ("@daily", 2, True, {"a", "b"})
    assert d.max_active_tasks == 16
    assert d.dag_display_name == "settings"


def test_unknown_dag_keyword_is_a_type_error_naming_it():
    """A misspelt DAG keyword fails loudly instead of being ignored."""
    with pytest.raises(TypeError, match="schedule_interval"):
        DAG("old", schedule_interval="@daily")  # type: ignore[call-arg]


@pytest.mark.parametrize("bad_id", ["has space", "slash/id", "", "x" * 251, "ünïcode"])
def test_invalid_dag_id_is_rejected(bad_id):
    """A dag_id over 250 characters, or with characters other than letters, digits, `_.-`, fails."""
    with pytest.raises(DagDefinitionError, match="dag_id"):
        DAG(bad_id)


def test_default_args_params_move_into_dag_params():
    """A `params` entry of default_args becomes DAG params, with explicit params winning."""
    d = DAG("p", default_args={"params": {"a": 1, "b": 1}}, params={"b": 2})
    assert d.params == {"a": 1, "b": 2}
    assert "params" not in d.default_args


def test_get_task_unknown_id_raises_key_error_with_suggestion():
    """Looking up a missing task raises KeyError naming the DAG and suggesting a close id."""
    with DAG("lookup") as d:
        EmptyOperator(task_id="extract")
    with pytest.raises(KeyError, match="'lookup' has no task 'extrct'; did you mean 'extract'"):
        d.get_task("extrct")
    assert d.has_task("extract")
    assert not d.has_task("extrct")


def test_duplicate_task_id_raises():
    """Two tasks with the same task_id in one DAG raise DuplicateTaskIdError."""
    with DAG("dup"):
        EmptyOperator(task_id="a")
        with pytest.raises(DuplicateTaskIdError, match="'a' is already used in DAG 'dup'"):
            EmptyOperator(task_id="a")


def test_task_without_dag_can_be_added_later():
    """An operator created outside any DAG can be added with add_task."""
    op = EmptyOperator(task_id="loose")
    assert not op.has_dag()
    d = DAG("later")
    d.add_task(op)
    assert op.dag is d
    assert d.tasks == [op]


def test_task_cannot_move_to_a_second_dag():
    """Adding a task that belongs to one DAG to another is an error."""
    with DAG("first"):
        op = EmptyOperator(task_id="t")
    with pytest.raises(DagDefinitionError, match="already belongs to DAG 'first'"):
        DAG("second").add_task(op)


def test_roots_and_leaves():
    """Roots are tasks without upstream and leaves tasks without downstream."""
    with DAG("shape") as d:
        a, b, c = (EmptyOperator(task_id=i) for i in "abc")
        a >> [b, c]
    assert d.roots == [a]
    assert d.leaves == [b, c]


def test_topological_sort_is_stable():
    """Topological order puts upstream first and keeps insertion order among ready tasks."""
    with DAG("topo") as d:
        z, y, x, w = (EmptyOperator(task_id=i) for i in "zyxw")
        w >> z
        x >> y
    assert [t.task_id for t in d.topological_sort()] == ["x", "y", "w", "z"]


def test_cycle_error_names_the_path():
    """A cycle is reported with its path, in dependency order."""
    with DAG("loop") as d:
        a, b, c = (EmptyOperator(task_id=i) for i in "abc")
        a >> b >> c >> a
    with pytest.raises(CycleError, match="DAG 'loop' has a cycle: a -> b -> c -> a"):
        d.check_cycle()


def test_self_dependency_is_a_cycle():
    """A task depending on itself is reported as a one-task cycle."""
    with DAG("self") as d:
        a = EmptyOperator(task_id="a")
        a >> a
    with pytest.raises(CycleError, match="a -> a"):
        d.topological_sort()


def test_fileloc_and_fileline_point_at_the_creating_statement():
    """A DAG records the absolute file and the line of the statement that created it."""
    d = DAG("here")
    assert d.fileloc == __file__
    assert (
        d.fileline
        == test_fileloc_and_fileline_point_at_the_creating_statement.__code__.co_firstlineno + 2
    )


def test_collect_dags_sees_dags_not_bound_to_a_global():
    """DAGs created while a collector is open are reported even when nothing keeps a reference."""
    with collect_dags() as created:
        DAG("unbound")
        with DAG("with_block"):
            pass
    assert [d.dag_id for d in created] == ["unbound", "with_block"]


def test_auto_register_false_skips_the_collector():
    """A DAG built with auto_register=False is only found through a module global."""
    with collect_dags() as created:
        DAG("quiet", auto_register=False)
    assert created == []


def test_dag_decorator_builds_the_dag_on_call():
    """Calling a @dag function returns a DAG named after it, holding the tasks its body created."""

    @dag(schedule="@hourly")
    def pipeline():
        """Moves data."""
        EmptyOperator(task_id="only")

    built = pipeline()
    assert isinstance(built, DAG)
    assert (built.dag_id, built.schedule, built.task_ids) == ("pipeline", "@hourly", ["only"])
    assert built.doc_md == "Moves data."


def test_bare_dag_decorator_and_explicit_id():
    """`@dag` works without parentheses, and `@dag(dag_id=...)` overrides the function name."""

    @dag
    def bare():
        pass

    @dag(dag_id="named")
    def other():
        pass

    assert bare().dag_id == "bare"
    assert other().dag_id == "named"


def test_dag_decorator_arguments_become_params():
    """A @dag function's arguments become DAG params, unless params already define them."""
    seen = {}

    @dag(params={"b": "from params"})
    def with_args(a=1, b=2, c=3):
        seen.update(a=a, b=b, c=c)

    built = with_args(c=30)
    assert built.params == {"a": 1, "b": "from params", "c": 30}
    assert seen == {"a": 1, "b": 2, "c": 30}


def test_dag_decorator_fileline_is_the_call_site():
    """A DAG built by a @dag function records the line where the function was called."""

    @dag
    def located():
        pass

    built = located()
    assert built.fileloc == __file__
    assert (
        built.fileline == test_dag_decorator_fileline_is_the_call_site.__code__.co_firstlineno + 7
    )


def test_dag_decorator_rejects_unknown_keywords_early():
    """`@dag(...)` with a keyword DAG does not accept fails when applied, naming the keyword."""
    with pytest.raises(TypeError, match="scheduel"):
        dag(scheduel="@daily")


def test_nested_collectors_each_get_their_own_dags():
    """A DAG goes to the innermost open collector, and closing it leaves the outer one open."""
    with collect_dags() as outer:
        with collect_dags() as inner:
            DAG("inner_dag")
        DAG("outer_dag")
    assert [d.dag_id for d in inner] == ["inner_dag"]
    assert [d.dag_id for d in outer] == ["outer_dag"]


def test_same_dag_can_be_entered_again():
    """Re-entering a DAG's with block adds operators to it again."""
    d = DAG("again")
    with d:
        EmptyOperator(task_id="a")
    with d, d:
        EmptyOperator(task_id="b")
    assert d.task_ids == ["a", "b"]
    assert current_dag() is None
