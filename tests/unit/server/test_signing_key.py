"""The token signing key: generated once with private permissions, or given by the operator."""

from __future__ import annotations

import os

import pytest

from airlock.exceptions import ConfigError
from airlock.server.signing_key import load_signing_key, signer_from_settings
from airlock.settings import Settings


def test_a_key_is_generated_on_first_use_with_mode_0600(tmp_path):
    """Without a key file, one is created readable by its owner only, and reused afterwards."""
    settings = Settings(home=tmp_path)
    key = load_signing_key(settings)
    path = tmp_path / "jwt_secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(key) >= 64
    assert load_signing_key(settings) == key
    signer = signer_from_settings(settings)
    assert signer.verify(signer.mint("ti", scope="execution")).sub == "ti"


def test_the_operator_s_key_file_is_used(tmp_path):
    """AIRLOCK_JWT_SECRET_FILE's key is read (surrounding whitespace ignored)."""
    path = tmp_path / "operator-key"
    path.write_text("k" * 80 + "\n")
    path.chmod(0o600)
    assert load_signing_key(Settings(home=tmp_path, jwt_secret_file=path)) == b"k" * 80


def test_a_missing_operator_key_file_is_an_error_not_generated(tmp_path):
    """A configured key file that does not exist is an error, and nothing is generated."""
    path = tmp_path / "missing"
    with pytest.raises(ConfigError, match="does not exist"):
        load_signing_key(Settings(home=tmp_path, jwt_secret_file=path))
    assert not path.exists()


def test_a_key_readable_by_others_is_refused(tmp_path):
    """A key file others can read is refused with the chmod to run."""
    path = tmp_path / "key"
    path.write_text("k" * 80)
    os.chmod(path, 0o644)  # noqa: PTH101 -- the mode is the point of the test
    with pytest.raises(ConfigError, match="chmod 600"):
        load_signing_key(Settings(home=tmp_path, jwt_secret_file=path))


def test_a_short_key_is_refused_without_showing_it(tmp_path):
    """A key that is too short is refused, and the message does not contain it."""
    path = tmp_path / "key"
    path.write_text("tooshort-secret")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="15 bytes long") as raised:
        load_signing_key(Settings(home=tmp_path, jwt_secret_file=path))
    assert "tooshort-secret" not in str(raised.value)
