"""Security tests reuse the integration fixtures (real runs) and the API fixtures (real app, DB)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid

import pytest
from tests.integration.conftest import run_dag, write_dag
from tests.unit.server.conftest import (
    ApiClient,
    Database,
    app,
    client,
    db,
    engine,
    forge,
    running,
    secret,
    session_factory,
    signer,
)

__all__ = [
    "ApiClient",
    "Database",
    "app",
    "client",
    "db",
    "engine",
    "forge",
    "run_dag",
    "running",
    "secret",
    "session_factory",
    "signer",
    "write_dag",
]


@pytest.fixture(scope="session")
def throwaway_user():
    """A system user made for this session and removed after it (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("switching users needs root: run the tests as root to cover run_as_user")
    useradd, userdel = shutil.which("useradd"), shutil.which("userdel")
    if useradd is None or userdel is None:
        pytest.skip("useradd/userdel are not installed, so no throwaway user can be made")
    name = f"airlock-t{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run([userdel, name], check=False)
