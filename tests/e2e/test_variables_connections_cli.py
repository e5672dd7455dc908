"""`airlock variables` and `airlock connections` manage the configured database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

AIRLOCK = [sys.executable, "-m", "airlock.cli.main"]


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run the airlock command against the SQLite database of ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
    env["AIRLOCK_HOME"] = str(home)
    return subprocess.run(
        [*AIRLOCK, *args], check=False, capture_output=True, text=True, env=env, timeout=120
    )


def test_variables_set_get_list_export_import_delete(tmp_path):
    """Variables round-trip through the CLI in Airflow's export format."""
    assert (
        cli("variables", "set", "colour", "blue", "--description", "hue", home=tmp_path).returncode
        == 0
    )
    assert cli("variables", "set", "cfg", '{"n": 3}', "--json", home=tmp_path).returncode == 0
    assert cli("variables", "get", "colour", home=tmp_path).stdout == "blue\n"
    assert json.loads(cli("variables", "get", "cfg", "--json", home=tmp_path).stdout) == {"n": 3}
    listed = json.loads(cli("variables", "list", "--json", home=tmp_path).stdout)
    assert [row["key"] for row in listed] == ["cfg", "colour"]
    exported = tmp_path / "vars.json"
    assert cli("variables", "export", str(exported), home=tmp_path).returncode == 0
    assert json.loads(exported.read_text()) == {
        "cfg": {"n": 3},
        "colour": {"value": "blue", "description": "hue"},
    }
    assert cli("variables", "delete", "colour", home=tmp_path).returncode == 0
    missing = cli("variables", "get", "colour", home=tmp_path)
    assert (missing.returncode, missing.stderr) == (1, "Variable 'colour' does not exist\n")
    assert cli("variables", "get", "colour", "--default", "red", home=tmp_path).stdout == "red\n"
    assert cli("variables", "import", str(exported), home=tmp_path).returncode == 0
    assert cli("variables", "get", "colour", home=tmp_path).stdout == "blue\n"
    failing = cli(
        "variables", "import", str(exported), "--action-on-existing-key", "fail", home=tmp_path
    )
    assert failing.returncode == 2
    assert "Variable 'cfg' exists already" in failing.stderr


def test_connections_add_get_list_export_import_delete(tmp_path):
    """Connections round-trip through the CLI; list and get never show a password by default."""
    uri = "postgres://ann:s3cr%40t@db.example:5433/dw?sslmode=require"
    assert cli("connections", "add", "wh", "--conn-uri", uri, home=tmp_path).returncode == 0
    added = cli(
        "connections",
        "add",
        "api",
        "--conn-type",
        "http",
        "--conn-host",
        "api.example",
        "--conn-password",
        "pw-123456",
        "--conn-port",
        "443",
        home=tmp_path,
    )
    assert added.returncode == 0
    listing = cli("connections", "list", home=tmp_path).stdout
    assert "db.example" in listing
    assert "s3cr" not in listing
    assert "pw-123456" not in listing
    got = json.loads(cli("connections", "get", "wh", "--json", home=tmp_path).stdout)
    assert (got["password"], got["extra"], got["port"]) == ("***", {"sslmode": "require"}, 5433)
    shown = json.loads(
        cli("connections", "get", "wh", "--json", "--show-secrets", home=tmp_path).stdout
    )
    assert (shown["password"], shown["uri"]) == ("s3cr@t", uri)
    exported = tmp_path / "conns.json"
    assert cli("connections", "export", str(exported), home=tmp_path).returncode == 0
    document = json.loads(exported.read_text())
    assert document["api"]["conn_type"] == "http"
    assert document["wh"]["extra"] == {"sslmode": "require"}
    assert cli("connections", "delete", "wh", home=tmp_path).returncode == 0
    assert cli("connections", "get", "wh", home=tmp_path).returncode == 1
    assert cli("connections", "import", str(exported), home=tmp_path).returncode == 0
    restored = json.loads(
        cli("connections", "get", "wh", "--json", "--show-secrets", home=tmp_path).stdout
    )
    assert restored["uri"] == uri


def test_adding_a_connection_without_a_type_is_refused(tmp_path):
    """`connections add` without a URI, JSON or --conn-type exits 2 and says what to give."""
    result = cli("connections", "add", "x", "--conn-host", "h", home=tmp_path)
    assert result.returncode == 2
    assert "give --conn-uri, --conn-json, or at least --conn-type" in result.stderr
