"""How XCom values become JSON and come back, keeping Python types JSON lacks.

A value is encoded once, in the runner, to JSON bytes; the supervisor and the API store and
forward those bytes untouched, and the runner that reads the XCom decodes them. Types JSON has
no form for travel as a tagged object ``{"__airlock_type__": NAME, "value": ...}``: tuple, set,
frozenset, datetime, date, time, timedelta, Decimal, UUID, bytes and Path. When a value holds
none of them the bytes are plain JSON, and decoding skips the walk.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final

import msgspec

from airlock.exceptions import XComError

if TYPE_CHECKING:
    from collections.abc import Callable

TYPE_KEY: Final = "__airlock_type__"
_TYPE_MARKER: Final = TYPE_KEY.encode()
_SCALARS: Final = (str, int, float, bool, type(None))

_encode_tagged: dict[type, Callable[[Any], tuple[str, Any]]] = {
    dt.datetime: lambda v: ("datetime", v.isoformat()),
    dt.date: lambda v: ("date", v.isoformat()),
    dt.time: lambda v: ("time", v.isoformat()),
    dt.timedelta: lambda v: ("timedelta", v.total_seconds()),
    Decimal: lambda v: ("decimal", str(v)),
    uuid.UUID: lambda v: ("uuid", str(v)),
    bytes: lambda v: ("bytes", base64.b64encode(v).decode()),
}

_decoders: dict[str, Callable[[Any], Any]] = {
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timedelta": lambda v: dt.timedelta(seconds=v),
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
    "path": PurePath,
}

_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


def serialize(value: Any, *, max_bytes: int | None = None) -> bytes:
    """Encode ``value`` as XCom JSON.

    Raises:
        XComError: the value holds an object with no JSON form, or is larger than ``max_bytes``.
    """
    data = _json_encoder.encode(_to_json(value, "value"))
    if max_bytes is not None and len(data) > max_bytes:
        raise XComError(
            f"XCom value is {len(data)} bytes as JSON, over the limit of {max_bytes} bytes: "
            "store large data elsewhere (a file, object storage) and pass its location instead"
        )
    return data


def deserialize(data: bytes) -> Any:
    """Decode XCom JSON back into the value that was stored."""
    value = _json_decoder.decode(data)
    if _TYPE_MARKER in data:
        return _from_json(value)
    return value


def _to_json(value: Any, path: str) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_to_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind is dict:
        return _dict_to_json(value, path)
    return _tagged(value, path)


def _dict_to_json(value: dict[Any, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise XComError(
                f"XCom value at {path} has a key {key!r} of type {type(key).__name__}: "
                "XCom dict keys must be strings"
            )
        out[key] = _to_json(item, f"{path}[{key!r}]")
    return out


def _tagged(value: Any, path: str) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        name = "tuple" if isinstance(value, tuple) else type(value).__name__
        items = sorted(value, key=repr) if not isinstance(value, tuple) else value
        if name not in _decoders:  # a subclass such as a namedtuple
            name = "tuple" if isinstance(value, tuple) else "set"
        return {TYPE_KEY: name, "value": [_to_json(v, f"{path}[{i}]") for i, v in enumerate(items)]}
    if isinstance(value, PurePath):
        return {TYPE_KEY: "path", "value": str(value)}
    for base, encode in _encode_tagged.items():
        if isinstance(value, base):
            name, payload = encode(value)
            return {TYPE_KEY: name, "value": payload}
    if isinstance(value, (str, int, float, list, dict, Enum)):  # JSON types' subclasses, enums
        return _to_json(_as_builtin(value), path)
    raise XComError(
        f"XCom value at {path} is a {type(value).__module__}.{type(value).__qualname__}, which "
        "cannot be stored as XCom: return JSON-compatible data (str, int, float, bool, None, "
        "list, dict) or a tuple, set, datetime, date, timedelta, Decimal, UUID, bytes or Path"
    )


def _as_builtin(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return str.__str__(value)
    builtin: type = next(b for b in (int, float, list, dict) if isinstance(value, b))
    return builtin(value)  # pragma: no cover -- callers pass only JSON-type subclasses


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    name = value.get(TYPE_KEY)
    if name is not None and len(value) == 2 and "value" in value:  # noqa: PLR2004 -- tag + value
        decode = _decoders.get(name)
        if decode is not None:
            return decode(_from_json(value["value"]))
    return {key: _from_json(item) for key, item in value.items()}
