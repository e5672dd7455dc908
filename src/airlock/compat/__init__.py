"""Running unmodified Airflow 3 DAG files on airlock: the ``--compat airflow`` switch.

``install("airflow")`` puts an import shim on ``sys.meta_path`` (``airlock.compat.finder``) so
that ``from airflow.sdk import DAG, task`` and the standard provider's operators give airlock's
objects, and records the mode in ``AIRLOCK_COMPAT`` so that the processes started from this one
(DAG parsers, task runners) install it too: they call :func:`install_from_env` before they
import a DAG file. Processes that never import user code (the scheduler, a worker's supervisor)
only pass the switch on.

It is opt-in, and refuses to start when a real Airflow is importable in the same environment:
the shim would hide it, and which one a DAG file got would depend on import order.

``airlock.compat`` also exports Airflow's exception names (``AirflowSkipException``...), for
code that wants them without the shim.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Final

from airlock.compat.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
    AirflowTaskTerminated,
    AirflowTaskTimeout,
)
from airlock.exceptions import ConfigError

COMPAT_ENV: Final = "AIRLOCK_COMPAT"
"""The environment variable that carries the mode to child processes."""

MODES: Final = ("airflow",)
"""The compatibility modes airlock knows."""

__all__ = [
    "COMPAT_ENV",
    "MODES",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSkipException",
    "AirflowTaskTerminated",
    "AirflowTaskTimeout",
    "check",
    "install",
    "install_from_env",
    "installed_mode",
]


def install(mode: str | None) -> None:
    """Switch this process (and the processes it starts) to compatibility ``mode``.

    ``None`` or ``""`` does nothing. Installing the same mode twice is harmless.

    Args:
        mode: ``"airflow"``, or None.

    Raises:
        ConfigError: the mode is unknown, or a real Airflow is importable here.
    """
    if not mode:
        return
    if installed_mode() != mode:
        check(mode)
        from airlock.compat.finder import AirflowShimFinder  # noqa: PLC0415 -- only when switched on

        sys.meta_path.insert(0, AirflowShimFinder())
    os.environ[COMPAT_ENV] = mode


def check(mode: str | None) -> None:
    """Check that ``mode`` can be switched on here, without switching it on.

    A process that starts parsers and runners in a compatibility mode calls this first, so that
    it refuses to start with a clear message rather than fail in every child.

    Raises:
        ConfigError: the mode is unknown, or a real Airflow is importable here.
    """
    if not mode:
        return
    if mode not in MODES:
        raise ConfigError(f"unknown compatibility mode {mode!r}; airlock knows {', '.join(MODES)}")
    _refuse_real_airflow()


def install_from_env() -> None:
    """Install the mode named by ``AIRLOCK_COMPAT``, if any (parsers and runners call this).

    Raises:
        ConfigError: the mode is unknown, or a real Airflow is importable here.
    """
    install(os.environ.get(COMPAT_ENV))


def installed_mode() -> str | None:
    """Return the compatibility mode installed in this process, or None."""
    from airlock.compat import finder  # noqa: PLC0415 -- cheap; only the finder's class matters

    if any(isinstance(entry, finder.AirflowShimFinder) for entry in sys.meta_path):
        return "airflow"
    return None


def _refuse_real_airflow() -> None:
    """Raise a ConfigError when a real Airflow installation is importable."""
    spec = importlib.util.find_spec("airflow")
    if spec is None:
        return
    where = spec.origin or (list(spec.submodule_search_locations or []) or ["?"])[0]
    raise ConfigError(
        f"--compat airflow cannot start: a real Airflow is installed in this environment "
        f"({where}). The shim would hide it; run airlock in an environment without "
        "apache-airflow, or run the DAG with Airflow itself"
    )
