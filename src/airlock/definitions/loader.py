"""Loading a DAG file: import it, collect the DAGs it defines, and check them.

Every failure becomes a :class:`~airlock.exceptions.DagFileError` that names the file and,
when it can, the line of the DAG file where things went wrong.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import sys
from typing import TYPE_CHECKING

from airlock.definitions.dag import DAG, collect_dags
from airlock.exceptions import CycleError, DagFileError

if TYPE_CHECKING:
    from types import ModuleType, TracebackType


def load_dag_file(path: str | os.PathLike[str]) -> dict[str, DAG]:
    """Import the DAG file at ``path`` and return its DAGs by dag_id.

    The file is imported as a module named after its absolute path (files with the same name
    in different folders do not clash), with its folder at the front of ``sys.path`` so that
    helper modules next to it import. The DAGs are those created during the import, plus any
    DAG held by a module global.

    Raises:
        DagFileError: the file is missing, fails to import, defines two DAGs with one dag_id,
            or holds a DAG whose dependencies form a cycle.
    """
    location = os.path.abspath(path)  # noqa: PTH100 -- code objects hold str paths; compare alike
    _check_readable(location)
    module, created = _import(location)
    dags = _dags_by_id(location, [*created, *_module_dags(module)])
    for dag in dags.values():
        _check_cycle(location, dag)
    return dags


_cache: dict[str, tuple[tuple[int, int], dict[str, DAG]]] = {}


def cached_dag_file(path: str | os.PathLike[str]) -> tuple[dict[str, DAG], bool]:
    """Like :func:`load_dag_file`, but reuse this process's earlier import of an unchanged file.

    A runner forked from the fork server finds the files the server imported before forking
    here, and skips the import. A file whose modification time or size changed is imported
    again. Returns the DAGs and whether they came from the cache.
    """
    location = os.path.abspath(path)  # noqa: PTH100 -- the same key load_dag_file computes
    _check_readable(location)
    stat = os.stat(location)  # noqa: PTH116 -- str paths throughout this module
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(location)
    if cached is not None and cached[0] == key:
        return cached[1], True
    dags = load_dag_file(location)
    _cache[location] = (key, dags)
    return dags, False


def load_dag(path: str | os.PathLike[str], dag_id: str) -> DAG:
    """Return the DAG ``dag_id`` of the file at ``path``, importing the file unless cached.

    Raises:
        DagFileError: the file cannot be loaded (see :func:`load_dag_file`), or defines no DAG
            with this id; the message lists the ids it does define.
    """
    dags, _ = cached_dag_file(path)
    if dag_id not in dags:
        defined = ", ".join(map(repr, sorted(dags))) or "none"
        raise DagFileError(
            os.path.abspath(path),  # noqa: PTH100 -- same form as load_dag_file's errors
            None,
            f"the file defines no DAG {dag_id!r}; the DAGs it defines: {defined}",
        )
    return dags[dag_id]


def module_name_for(path: str) -> str:
    """Return the module name a DAG file is imported under: unique per absolute path."""
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])  # noqa: PTH119, PTH122 -- str paths
    digest = hashlib.sha256(path.encode()).hexdigest()[:16]
    return f"airlock_dag_{stem}_{digest}"


def _check_readable(path: str) -> None:
    """Raise a DagFileError unless ``path`` is a readable file."""
    if not os.path.exists(path):  # noqa: PTH110 -- str paths throughout
        raise DagFileError(path, None, "the DAG file does not exist; check the path")
    if not os.path.isfile(path):  # noqa: PTH113 -- str paths throughout
        raise DagFileError(path, None, "this is not a file; pass the path of a Python DAG file")
    if not os.access(path, os.R_OK):
        raise DagFileError(path, None, "the DAG file cannot be read; check its permissions")


def _import(path: str) -> tuple[ModuleType, list[DAG]]:
    """Import the file as a fresh module; return it and the DAGs created meanwhile."""
    name = module_name_for(path)
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:  # pragma: no cover -- only for paths no loader accepts
        raise DagFileError(path, None, "the file cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    _put_folder_on_sys_path(path)
    sys.modules[name] = module
    try:
        with collect_dags() as created:
            loader.exec_module(module)
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        raise _as_file_error(path, error) from error
    return module, created


def _put_folder_on_sys_path(path: str) -> None:
    """Put the DAG file's folder at the front of ``sys.path`` unless it is already there."""
    folder = os.path.dirname(path)  # noqa: PTH120 -- str paths throughout
    if folder not in sys.path:
        sys.path.insert(0, folder)


def _as_file_error(path: str, error: BaseException) -> DagFileError:
    """Turn an exception raised while importing the DAG file into a DagFileError."""
    kind = type(error).__name__
    if isinstance(error, SyntaxError) and error.filename == path:
        return DagFileError(path, error.lineno, f"{kind}: {error.msg}")
    message = f"{kind}: {error}"
    if isinstance(error, SystemExit):
        message += " (the DAG file called sys.exit() while being imported; remove that call)"
    return DagFileError(path, _innermost_line(error.__traceback__, path), message)


def _innermost_line(traceback: TracebackType | None, path: str) -> int | None:
    """Return the line of the innermost traceback frame that runs code of ``path``."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == path:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _module_dags(module: ModuleType) -> list[DAG]:
    """Return the DAGs held by the module's globals."""
    return [value for value in vars(module).values() if isinstance(value, DAG)]


def _dags_by_id(path: str, dags: list[DAG]) -> dict[str, DAG]:
    """Index ``dags`` by dag_id; two distinct DAGs with one id are an error."""
    by_id: dict[str, DAG] = {}
    for dag in dags:
        known = by_id.setdefault(dag.dag_id, dag)
        if known is not dag:
            raise DagFileError(
                path,
                dag.fileline if dag.fileloc == path else None,
                f"DAG id {dag.dag_id!r} is used by two DAGs (created at lines "
                f"{known.fileline} and {dag.fileline}); give each DAG its own dag_id",
            )
    return by_id


def _check_cycle(path: str, dag: DAG) -> None:
    """Raise a DagFileError, at the DAG's line, if the DAG's dependencies form a cycle."""
    try:
        dag.check_cycle()
    except CycleError as error:
        line = dag.fileline if dag.fileloc == path else None
        raise DagFileError(path, line, str(error)) from error
