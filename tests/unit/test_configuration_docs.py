"""docs/configuration.md documents every setting."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from airlock.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented():
    """Each field of Settings has a row (its name in backquotes) in docs/configuration.md."""
    text = DOC.read_text()
    missing = [f.name for f in fields(Settings) if f"| `{f.name}` |" not in text]
    assert missing == []
