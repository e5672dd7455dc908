"""XCom values: Python types JSON lacks come back as they went in; bad values are refused."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import namedtuple
from decimal import Decimal
from enum import Enum
from pathlib import PurePosixPath

import pytest

from airlock.exceptions import XComError
from airlock.execution.xcom_values import deserialize, serialize


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2.5,
        "text",
        [1, "a", None],
        {"nested": {"list": [1, 2]}},
        (1, 2, (3, 4)),
        {1, 2, 3},
        frozenset({"a"}),
        dt.datetime(2026, 11, 24, 12, 30, tzinfo=dt.UTC),
        dt.date(2026, 11, 24),
        dt.time(7, 45),
        dt.timedelta(hours=2, seconds=3),
        Decimal("10.25"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"\x00\xffbytes",
        PurePosixPath("/data/file.csv"),
        {"when": [dt.date(2026, 1, 1), (1, {2})]},
    ],
    ids=repr,
)
def test_values_round_trip_with_their_types(value):
    """A value read back from XCom equals the value pushed, including its type."""
    restored = deserialize(serialize(value))
    assert restored == value
    assert type(restored) is type(value)


def test_plain_json_stays_plain():
    """Values made only of JSON types are stored as ordinary JSON others can read."""
    assert serialize({"a": [1, 2], "b": None}) == b'{"a":[1,2],"b":null}'


def test_enum_and_namedtuple_are_stored_by_value():
    """Enums are stored as their value and namedtuples as tuples."""

    class Color(Enum):
        RED = "red"

    point = namedtuple("point", "x y")  # noqa: PYI024 -- the test is about namedtuple
    assert deserialize(serialize([Color.RED, point(1, 2)])) == ["red", (1, 2)]


def test_unstorable_value_names_its_type_and_place():
    """An object with no JSON form is refused with its type and where it sits in the value."""
    with pytest.raises(XComError, match=r"at value\['rows'\]\[1\] is a builtins.object"):
        serialize({"rows": [1, object()]})


def test_non_string_dict_keys_are_refused():
    """Dict keys must be strings, as in JSON; anything else is a clear error."""
    with pytest.raises(XComError, match="has a key 1 of type int"):
        serialize({1: "a"})


def test_size_limit_is_enforced_with_both_sizes():
    """A value over the size limit is refused with its size and the limit in the message."""
    with pytest.raises(XComError, match="is 1003 bytes as JSON, over the limit of 100 bytes"):
        serialize("x" * 1001, max_bytes=100)


def test_user_dict_that_looks_tagged_is_left_alone():
    """A user dict that merely contains the tag key, with other keys, is not rewritten."""
    value = {"__airlock_type__": "tuple", "value": [1], "other": 2}
    assert deserialize(serialize(value)) == value
