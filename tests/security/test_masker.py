"""The masker hides every registered secret in each spelling it covers, and keeps up with logs."""

from __future__ import annotations

import base64
import json
import random
import string
import time
from urllib.parse import quote, quote_plus

import pytest

from airlock import mask_secret
from airlock.execution.literal_trie import literal_pattern
from airlock.execution.masking import (
    SecretsMasker,
    environment_secrets,
    sensitive_values,
    spellings,
)

SECRET = "pa'ss\"wörd/+ 42"


@pytest.mark.parametrize(
    "printed",
    [
        SECRET,
        json.dumps({"password": SECRET}),
        json.dumps({"password": SECRET}, ensure_ascii=False),
        repr({"password": SECRET}),
        ascii([SECRET]),
        f"postgres://ann:{quote(SECRET, safe='')}@db/dw",
        f"q={quote_plus(SECRET)}",
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
    ],
)
def test_every_covered_spelling_is_masked(printed):
    """A secret is masked as written, as JSON, repr, ascii, URL-encoded and base64."""
    masker = SecretsMasker()
    masker.add(SECRET)
    masked = masker.redact(f"before {printed} after")
    assert "***" in masked
    assert all(form not in masked for form in spellings(SECRET))


def test_the_longest_overlapping_secret_wins():
    """Where one secret extends another, the whole longer one is masked, not a prefix of it."""
    masker = SecretsMasker()
    masker.add_all(["secret-one", "secret-one-and-more"])
    assert masker.redact("x secret-one-and-more y secret-one") == "x *** y ***"


def test_the_trie_pattern_matches_exactly_the_given_strings():
    """The trie regex finds every string of its set, and nothing else, however they overlap."""
    words = {"abc", "abd", "ab", "abcdef", "x" * 3000, "b"}
    pattern = literal_pattern(words)
    assert pattern is not None
    text = "abcdef abx abd " + "x" * 3000 + " c b"
    assert pattern.findall(text) == ["abcdef", "ab", "abd", "x" * 3000, "b"]
    assert literal_pattern(set()) is None


def test_secret_values_are_found_under_sensitive_keys_of_an_extra():
    """Below a sensitive key everything is secret; other values of an extra are not."""
    extra = {"region": "eu", "auth": {"user": "svc", "key": "k-123456"}, "api_key": "a-987654"}
    assert sorted(sensitive_values(extra)) == ["a-987654", "k-123456", "svc"]


def test_secrets_given_in_the_environment_are_found():
    """Passwords of AIRLOCK_CONN_* and values of sensitive AIRLOCK_VAR_* are secrets; others not."""
    env = {
        "AIRLOCK_CONN_DB": "postgres://u:pw%2F12345@h/db?private_key=pk-abcdef",
        "AIRFLOW_CONN_API": '{"conn_type": "http", "password": "json-pass-1"}',
        "AIRLOCK_CONN_BROKEN": "::not a uri::",
        "AIRLOCK_VAR_API_TOKEN": "tok-123456",
        "AIRLOCK_VAR_REGION": "eu-west-1",
        "PATH": "/usr/bin",
    }
    assert sorted(environment_secrets(env)) == [
        "json-pass-1",
        "pk-abcdef",
        "pw/12345",
        "tok-123456",
    ]


def test_masking_keeps_up_with_a_busy_log():
    """With 100 secrets registered the masker handles well over 10,000 log lines a second."""
    rng = random.Random(6)  # noqa: S311 -- test data, not keys
    alphabet = string.ascii_letters + string.digits
    masker = SecretsMasker()
    masker.add_all("".join(rng.choices(alphabet, k=rng.randint(8, 40))) for _ in range(100))
    lines = [
        f"2026-01-01 INFO processed record {i} of batch {i % 7}: status=ok, took {i % 97} ms"
        for i in range(20_000)
    ]
    started = time.perf_counter()
    for line in lines:
        masker.redact(line)
    rate = len(lines) / (time.perf_counter() - started)
    print(f"\nmasker: {rate:,.0f} lines/s with 100 secrets")
    assert rate > 10_000


def test_mask_secret_outside_a_task_does_nothing():
    """mask_secret at DAG-parse time or in a unit test (no supervisor) is a harmless no-op."""
    assert mask_secret("no-task-runs-here") is None
    assert mask_secret({"a": ["b-secret"], "n": 1}) is None


@pytest.mark.parametrize("value", [12345, b"bytes-secret", 1.5, None])
def test_mask_secret_refuses_what_is_not_text(value):
    """A value that is not text (or a container of text) is refused, naming its type."""
    with pytest.raises(TypeError, match=f"got {type(value).__name__}"):
        mask_secret(value)
