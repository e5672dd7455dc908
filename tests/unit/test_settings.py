"""Settings: airlock.toml and AIRLOCK_* variables, their precedence, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.exceptions import ConfigError
from airlock.settings import Settings


@pytest.fixture
def airlock_home(_airlock_home):
    """The test's private AIRLOCK_HOME."""
    return _airlock_home


def _toml(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "airlock.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment(airlock_home):
    """With nothing configured, every setting has its documented default."""
    settings = Settings.load()
    assert settings.home == airlock_home
    assert settings.sql_alchemy_url == f"sqlite:///{airlock_home / 'airlock.db'}"
    assert settings.api_url == "http://127.0.0.1:8080"
    assert settings.executor == "local"
    assert settings.signing_key_file == airlock_home / "jwt_secret"


def test_toml_in_home_is_read_and_the_environment_wins(airlock_home, monkeypatch):
    """airlock.toml in AIRLOCK_HOME is read; an AIRLOCK_* variable overrides the same key."""
    _toml(airlock_home, 'api_port = 9000\nexecutor = "celery"\nheartbeat_timeout = 60\n')
    monkeypatch.setenv("AIRLOCK_API_PORT", "9100")
    settings = Settings.load()
    assert settings.api_port == 9100
    assert settings.executor == "celery"
    assert settings.heartbeat_timeout == 60.0


def test_config_file_is_taken_from_airlock_config(tmp_path, monkeypatch):
    """AIRLOCK_CONFIG names the toml file to read instead of the one in home."""
    path = tmp_path / "elsewhere.toml"
    path.write_text('dags_folder = "/srv/dags"\napi_base_url = "http://api.internal:8080/"\n')
    monkeypatch.setenv("AIRLOCK_CONFIG", str(path))
    settings = Settings.load()
    assert settings.dags_folder == Path("/srv/dags")
    assert settings.api_url == "http://api.internal:8080"


def test_unknown_toml_key_is_an_error_naming_it(airlock_home):
    """A misspelt key is refused with the key, the file, and a suggestion."""
    path = _toml(airlock_home, "heartbeat_timout = 60\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'heartbeat_timout'.*heartbeat_timeout"):
        Settings.load()
    with pytest.raises(ConfigError, match=str(path)):
        Settings.load()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AIRLOCK_API_PORT", "eighty", "is not a number"),
        ("AIRLOCK_PARALLELISM", "0", "greater than zero"),
        ("AIRLOCK_API_WORKERS", "1.5", "whole number"),
        ("AIRLOCK_EXECUTOR", "kubernetes", "not known"),
        ("AIRLOCK_HEARTBEAT_TIMEOUT", "1", "longer than heartbeat_interval"),
        ("AIRLOCK_HEARTBEAT_MAX_MISSES", "60", "must be shorter than heartbeat_timeout"),
        ("AIRLOCK_HEARTBEAT_MAX_MISSES", "0", "greater than zero"),
    ],
)
def test_bad_environment_values_are_refused_clearly(monkeypatch, name, value, message):
    """A wrong value names the setting and says what is expected."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Settings.load()


def test_bad_toml_is_refused(airlock_home):
    """A file that is not toml is refused with its path."""
    _toml(airlock_home, "api_port = = 1\n")
    with pytest.raises(ConfigError, match="is not valid toml"):
        Settings.load()


def test_from_env_ignores_the_toml_file(airlock_home, monkeypatch):
    """The task runner's settings come from its environment only, never from the file."""
    _toml(airlock_home, 'database_url = "postgresql://user:secret@db/airlock"\n')
    monkeypatch.setenv("AIRLOCK_XCOM_MAX_BYTES", "1000")
    settings = Settings.from_env()
    assert settings.database_url is None
    assert settings.xcom_max_bytes == 1000


def test_database_password_is_not_in_the_repr(monkeypatch):
    """Printing the settings never shows the database URL (it may hold a password)."""
    monkeypatch.setenv("AIRLOCK_DATABASE_URL", "postgresql://user:hunter2@db/airlock")
    assert "hunter2" not in repr(Settings.load())


def test_heartbeat_misses_set_how_long_the_api_may_be_away(monkeypatch):
    """``heartbeat_max_misses`` x ``heartbeat_interval`` is the outage a running task survives."""
    assert Settings().heartbeat_max_misses == 3
    monkeypatch.setenv("AIRLOCK_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setenv("AIRLOCK_HEARTBEAT_MAX_MISSES", "16")
    settings = Settings.load()
    assert settings.heartbeat_max_misses == 16
    assert settings.heartbeat_outage_tolerance == 8.0
