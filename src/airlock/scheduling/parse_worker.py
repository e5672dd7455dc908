"""The DAG-file parser process: imports one DAG file and writes its serialized DAGs.

Run as ``python -m airlock.scheduling.parse_worker DAG_FILE RESULT_FILE``. User code in the DAG
file runs here, never in the scheduler or the API server; what goes back is plain data
(``ParseResult``, msgpack-encoded into RESULT_FILE).
"""

from __future__ import annotations

import os
import sys
import time

import msgspec

from airlock.compat import install_from_env
from airlock.definitions.serialized import ParseError, ParseResult
from airlock.exceptions import DagFileError


def parse(path: str) -> ParseResult:
    """Import ``path`` and serialize the DAGs it defines."""
    from airlock.definitions.loader import load_dag_file  # noqa: PLC0415 -- timed below
    from airlock.definitions.serialization import serialize_dag  # noqa: PLC0415

    started = time.perf_counter()
    try:
        install_from_env()  # --compat airflow: the Airflow import shim, before the file runs
        dags = load_dag_file(path)
        serialized = tuple(serialize_dag(dag) for dag in dags.values())
    except DagFileError as exc:
        error = ParseError(path=exc.path, line=exc.line, message=exc.message)
        return ParseResult(path=path, error=error, duration=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 -- any failure is reported against the file
        error = ParseError(path=path, line=None, message=f"{type(exc).__name__}: {exc}")
        return ParseResult(path=path, error=error, duration=time.perf_counter() - started)
    return ParseResult(path=path, dags=serialized, duration=time.perf_counter() - started)


def main(argv: list[str]) -> int:
    """Parse the file named by ``argv[1]`` and write the result to ``argv[2]``."""
    result = parse(argv[1])
    with open(argv[2], "wb") as out:  # noqa: PTH123 -- plain file write, no pathlib needed
        out.write(msgspec.msgpack.encode(result))
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # a DAG file's leftover threads must not keep the parser alive
