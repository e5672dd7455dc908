"""The import shim: ``import airflow...`` in a DAG file gets airlock's objects.

A ``sys.meta_path`` finder answers every module name under ``airflow``: a module of
:data:`~airlock.compat.names.MODULES` (or a package above one) becomes a small module whose
attributes are looked up in the table on first use; any other ``airflow`` module fails at once
with an ``ImportError`` that names it. Importing a name that a provided module lacks fails the
same way, naming the module and the name. Nothing is ever silently replaced by a stand-in.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
from typing import TYPE_CHECKING, Any, Final

from airlock.compat.names import MODULES

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

ROOT: Final = "airflow"
_PACKAGES: Final = frozenset(
    ".".join(name.split(".")[:depth]) for name in MODULES for depth in range(1, name.count(".") + 2)
)
_HINT: Final = (
    "airlock runs Airflow DAG files that use the Task SDK and the standard provider; "
    "see docs/porting-from-airflow.md for what is provided, or port this import to airlock"
)


class NotProvidedError(ModuleNotFoundError):
    """An Airflow module or name that ``--compat airflow`` does not provide."""


class AirflowShimFinder(importlib.abc.MetaPathFinder):
    """Finds the ``airflow`` modules the shim provides, and refuses the others by name."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 -- MetaPathFinder's signature
        target: ModuleType | None = None,  # noqa: ARG002 -- MetaPathFinder's signature
    ) -> importlib.machinery.ModuleSpec | None:
        """Return a spec for a provided ``airflow`` module; raise for one not provided.

        Raises:
            NotProvidedError: ``fullname`` is under ``airflow`` but not provided.
        """
        if fullname != ROOT and not fullname.startswith(f"{ROOT}."):
            return None
        if fullname not in _PACKAGES:
            raise NotProvidedError(
                f"airlock --compat airflow does not provide {fullname}; {_HINT}", name=fullname
            )
        return importlib.machinery.ModuleSpec(fullname, _LOADER, is_package=True)


class _ShimLoader(importlib.abc.Loader):
    """Fills a provided module with a lazy ``__getattr__`` over its table entry."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:  # noqa: ARG002
        """Use the default module creation."""
        return

    def exec_module(self, module: ModuleType) -> None:
        """Make the module resolve its names from the table when they are first read."""
        name = module.__name__
        module.__path__ = []
        module.__all__ = sorted(MODULES.get(name, {}))  # type: ignore[attr-defined]
        module.__getattr__ = _attribute_getter(name)  # type: ignore[method-assign]
        module.__doc__ = f"airlock's stand-in for {name} (--compat airflow)."


_LOADER: Final = _ShimLoader()


def _attribute_getter(module_name: str) -> Any:
    """Return the module-level ``__getattr__`` of the shim module ``module_name``."""
    table = MODULES.get(module_name, {})

    def get(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        if f"{module_name}.{name}" in _PACKAGES:
            return importlib.import_module(f"{module_name}.{name}")
        target = table.get(name)
        if target is None:
            raise NotProvidedError(
                f"airlock --compat airflow does not provide {name} from {module_name}; {_HINT}",
                name=module_name,
            )
        value = _resolve(module_name, name, target)
        globals_ = importlib.import_module(module_name).__dict__
        globals_[name] = value
        return value

    return get


def _resolve(module_name: str, name: str, target: str) -> Any:
    """Import the airlock object a table entry names.

    Raises:
        NotProvidedError: airlock has no such object (an operator it does not have yet).
    """
    module_path, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_path), attribute)
    except (ImportError, AttributeError):
        raise NotProvidedError(
            f"airlock --compat airflow does not provide {name} from {module_name}: airlock "
            f"has no {attribute} yet; {_HINT}",
            name=module_name,
        ) from None
