"""Fixtures shared by every test: a private airlock home, and real-service requirements."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from airlock.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(available: bool, what: str) -> None:
    """Skip when a real service is absent, except under CI=true where that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not reachable")
    pytest.skip(f"{what} is not reachable")


@pytest.fixture(autouse=True)
def _airlock_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state folder and never sees the developer's settings."""
    for key in list(os.environ):
        if key.startswith("AIRLOCK_"):
            monkeypatch.delenv(key)
    home = tmp_path / "airlock-home"
    monkeypatch.setenv("AIRLOCK_HOME", str(home))
    return home


@pytest.fixture
def fast_settings(tmp_path: Path) -> Settings:
    """Settings with short intervals, so tests of timing behaviour finish quickly."""
    return Settings(
        home=tmp_path / "airlock-home",
        heartbeat_interval=0.2,
        kill_grace_period=1.0,
        api_retries=2,
    )
