import sys
import textwrap

import pytest

from airlock.definitions.loader import load_dag, load_dag_file, module_name_for
from airlock.exceptions import DagFileError


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))


def _write(folder, name, source):
    path = folder / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def _load_error(path):
    with pytest.raises(DagFileError) as caught:
        load_dag_file(path)
    return caught.value


def test_finds_dags_from_with_blocks_decorators_and_globals(tmp_path):
    """A file's DAGs are found whether bound to a global, built in a bare with block or by @dag."""
    path = _write(
        tmp_path,
        "dags.py",
        """
        from airlock import DAG, EmptyOperator, dag

        bound = DAG("bound")

        with DAG("unbound"):
            EmptyOperator(task_id="t")

        @dag
        def decorated():
            EmptyOperator(task_id="t")

        decorated()
        """,
    )
    dags = load_dag_file(path)
    assert sorted(dags) == ["bound", "decorated", "unbound"]
    assert dags["unbound"].fileloc == str(path)
    assert dags["unbound"].fileline == 5


def test_syntax_error_reports_its_line(tmp_path):
    """A syntax error in the DAG file is reported with the file and the offending line."""
    path = _write(tmp_path, "broken.py", "from airlock import DAG\n\nx = (\n")
    error = _load_error(path)
    assert error.path == str(path)
    assert error.line == 3
    assert error.message.startswith("SyntaxError: ")
    assert str(error).startswith(f"{path}:3: SyntaxError")


def test_runtime_error_reports_the_dag_file_line(tmp_path):
    """An exception while importing is reported as `Type: message` at the DAG file's line."""
    path = _write(tmp_path, "name_error.py", "import os\n\n\nprint(undefined_name)\n")
    error = _load_error(path)
    assert error.line == 4
    assert error.message == "NameError: name 'undefined_name' is not defined"


def test_error_inside_airlock_is_reported_at_the_dag_file_line(tmp_path):
    """A duplicate task id is reported at the DAG file line that created the second task."""
    path = _write(
        tmp_path,
        "dup.py",
        """
        from airlock import DAG, EmptyOperator

        with DAG("dup"):
            EmptyOperator(task_id="a")
            EmptyOperator(task_id="a")
        """,
    )
    error = _load_error(path)
    assert error.line == 5
    assert error.message == "DuplicateTaskIdError: task id 'a' is already used in DAG 'dup'"


def test_error_in_a_helper_module_points_at_the_importing_line(tmp_path):
    """An error raised inside a helper module is reported at the DAG file line that led to it."""
    _write(tmp_path, "helper_boom.py", "def boom():\n    raise ValueError('bad config')\n")
    path = _write(tmp_path, "uses_helper.py", "import helper_boom\n\nhelper_boom.boom()\n")
    error = _load_error(path)
    assert (error.line, error.message) == (3, "ValueError: bad config")


def test_sys_exit_is_reported_not_raised(tmp_path):
    """A DAG file calling sys.exit() yields a DagFileError instead of ending the process."""
    path = _write(tmp_path, "exits.py", "import sys\n\nsys.exit(3)\n")
    error = _load_error(path)
    assert error.line == 3
    assert error.message.startswith("SystemExit: 3")


def test_import_error_is_reported(tmp_path):
    """A missing import is reported with its type and line."""
    path = _write(tmp_path, "imports.py", "# needs a module\nimport no_such_module_here\n")
    error = _load_error(path)
    assert error.line == 2
    assert error.message.startswith("ModuleNotFoundError: No module named 'no_such_module_here'")


def test_failed_import_is_not_left_in_sys_modules(tmp_path):
    """A DAG file that fails to import does not stay registered in sys.modules."""
    path = _write(tmp_path, "fails.py", "raise RuntimeError('no')\n")
    _load_error(path)
    assert module_name_for(str(path)) not in sys.modules


def test_two_dags_with_one_id_are_an_error(tmp_path):
    """Two distinct DAGs with the same dag_id in one file are an error naming both lines."""
    path = _write(
        tmp_path,
        "twins.py",
        """
        from airlock import DAG

        first = DAG("same")
        second = DAG("same")
        """,
    )
    error = _load_error(path)
    assert error.line == 4
    assert "'same' is used by two DAGs (created at lines 3 and 4)" in error.message


def test_cycle_is_reported_at_the_dag_line(tmp_path):
    """A cycle is reported with its path, at the line where the DAG was created."""
    path = _write(
        tmp_path,
        "cycle.py",
        """
        from airlock import DAG, EmptyOperator

        with DAG("x"):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b >> a
        """,
    )
    error = _load_error(path)
    assert (error.line, error.message) == (3, "DAG 'x' has a cycle: a -> b -> a")


def test_missing_file_is_a_clear_error(tmp_path):
    """Loading a path that does not exist is a DagFileError saying so."""
    error = _load_error(tmp_path / "nope.py")
    assert error.line is None
    assert "does not exist" in error.message


def test_directory_is_a_clear_error(tmp_path):
    """Loading a directory is a DagFileError saying it is not a file."""
    assert "not a file" in _load_error(tmp_path).message


def test_same_file_name_in_two_folders_does_not_clash(tmp_path):
    """Two DAG files with the same name in different folders load as separate modules."""
    paths = []
    for folder in ("team_a", "team_b"):
        (tmp_path / folder).mkdir()
        source = f"from airlock import DAG\n\nd = DAG('{folder}')\n"
        paths.append(_write(tmp_path / folder, "etl.py", source))
    first, second = (load_dag_file(p) for p in paths)
    assert list(first) == ["team_a"]
    assert list(second) == ["team_b"]
    assert module_name_for(str(paths[0])) != module_name_for(str(paths[1]))
    assert module_name_for(str(paths[0])) in sys.modules


def test_helper_module_next_to_the_dag_file_imports(tmp_path):
    """A DAG file can import a helper module that sits in its folder."""
    _write(tmp_path, "shared_settings_mod.py", "DAG_ID = 'from_helper'\n")
    path = _write(
        tmp_path,
        "uses_settings.py",
        "from airlock import DAG\nimport shared_settings_mod\n\n"
        "d = DAG(shared_settings_mod.DAG_ID)\n",
    )
    assert list(load_dag_file(path)) == ["from_helper"]
    assert sys.path[0] == str(tmp_path)


def test_load_dag_returns_one_dag(tmp_path):
    """load_dag returns the DAG with the requested id."""
    path = _write(tmp_path, "one.py", "from airlock import DAG\n\nd = DAG('one')\n")
    assert load_dag(path, "one").dag_id == "one"


def test_load_dag_missing_id_lists_defined_ids(tmp_path):
    """Asking for a DAG id the file does not define lists the ids it does define."""
    path = _write(tmp_path, "two.py", "from airlock import DAG\n\na = DAG('a')\nb = DAG('b')\n")
    with pytest.raises(DagFileError, match="no DAG 'c'; the DAGs it defines: 'a', 'b'"):
        load_dag(path, "c")


def test_loading_a_file_twice_gives_fresh_dags(tmp_path):
    """Loading the same file again imports it again and returns new DAG objects."""
    path = _write(tmp_path, "again.py", "from airlock import DAG\n\nd = DAG('again')\n")
    first = load_dag_file(path)["again"]
    second = load_dag_file(path)["again"]
    assert first is not second
