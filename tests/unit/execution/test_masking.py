"""Secrets masking: registered secrets and JWTs never reach a log line."""

from __future__ import annotations

import json

import pytest

from airlock.execution.masking import SecretsMasker, is_sensitive_name


def test_registered_secret_is_masked_everywhere_it_appears():
    """A registered secret is replaced by *** wherever it occurs in a line."""
    masker = SecretsMasker()
    masker.add("hunter22")
    assert masker.redact("pw=hunter22; again hunter22") == "pw=***; again ***"


def test_json_and_repr_forms_are_masked():
    """A secret with quotes or backslashes is masked in its JSON and repr spellings too."""
    secret = 'pa"ss\\word'
    masker = SecretsMasker()
    masker.add(secret)
    assert "***" in masker.redact(json.dumps({"password": secret}))
    assert secret not in masker.redact(repr(secret))
    assert "ss\\\\word" not in masker.redact(repr(secret))


def test_each_line_of_a_multiline_secret_is_masked():
    """A multi-line secret (a private key) is masked line by line."""
    masker = SecretsMasker()
    masker.add("-----BEGIN KEY-----\nABCDEFGH\n-----END KEY-----")
    assert masker.redact("got ABCDEFGH") == "got ***"


def test_short_values_are_not_masked():
    """Values shorter than 5 characters are not masked, so logs stay readable."""
    masker = SecretsMasker()
    masker.add("abc")
    assert masker.redact("abc") == "abc"


def test_jwts_are_masked_without_registration():
    """Anything shaped like a JWT is masked even if nobody registered it."""
    token = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ0aSJ9.c2lnbmF0dXJl"
    assert SecretsMasker().redact(f"Bearer {token}") == "Bearer ***"


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [("db_password", True), ("API_KEY", True), ("my-secret", True), ("region", False)],
)
def test_sensitive_names(name, sensitive):
    """Keys naming passwords, keys, secrets and tokens mark their values as secrets."""
    assert is_sensitive_name(name) is sensitive
