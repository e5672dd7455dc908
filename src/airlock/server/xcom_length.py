"""The number of items an XCom value holds, read from its JSON without building the value.

The server records it when the value is stored, so that the scheduler can count a mapped task's
instances (``expand`` over an upstream's output) from a column, never decoding user data.
Lists, dicts and the XCom codec's tagged tuples have a length; anything else has none.
"""

from __future__ import annotations

from typing import Final

import msgspec

from airlock.execution.xcom_values import TYPE_KEY

_CONTAINER_STARTS: Final = frozenset(b"[{")
_SKIMMER = msgspec.json.Decoder(list[msgspec.Raw] | dict[str, msgspec.Raw])
_TUPLE_TAG: Final = msgspec.json.encode("tuple")


def value_length(data: bytes) -> int | None:
    """Return how many items the JSON value ``data`` holds, or None when it is not a sequence.

    A tagged tuple (``{"__airlock_type__": "tuple", "value": [...]}``) counts its items; other
    tagged values (sets, datetimes...) cannot be mapped over and have no length.
    """
    start = data[:64].lstrip()[:1]
    if not start or start[0] not in _CONTAINER_STARTS:
        return None
    try:
        items = _SKIMMER.decode(data)
    except msgspec.DecodeError:
        return None
    if isinstance(items, list):
        return len(items)
    tag = items.get(TYPE_KEY)
    if tag is None or len(items) != 2 or "value" not in items:  # noqa: PLR2004 -- tag + value
        return len(items)
    if bytes(tag) != _TUPLE_TAG:
        return None
    return len(_SKIMMER.decode(bytes(items["value"])))
