"""``mask_secret``: task code tells its supervisor about a secret the supervisor cannot know.

Connection passwords and sensitive Variables are masked without help, because the supervisor
serves them. A secret the task gets some other way (from a vault, an HTTP answer, a file) is
masked once the task registers it: the runner sends it to the supervisor (``MaskSecret``), which
masks it in every later log line, rendered field and failure reason of the try.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airlock.execution.masking import all_strings


def mask_secret(secret: str | Mapping[str, Any] | Iterable[Any], name: str | None = None) -> None:
    """Mask ``secret`` in this try's logs, rendered fields and failure reason from now on.

    A mapping or iterable registers every string inside it (values, not keys). Text the task
    wrote before the call is not masked after the fact, so register a secret as soon as the task
    has it. Outside a running task (while a DAG file is parsed, in a unit test) there is no log
    to protect and the call does nothing.

    Args:
        secret: the secret text, or a dict / list / tuple / set of them.
        name: accepted for compatibility with Airflow's ``mask_secret``; it changes nothing.

    Raises:
        TypeError: ``secret`` is neither text nor a container of text.
    """
    del name
    if isinstance(secret, bytes | bytearray) or not isinstance(secret, str | Mapping | Iterable):
        raise TypeError(
            f"mask_secret takes a str, or a dict or list of str; got {type(secret).__name__} "
            "(pass str(value) to mask its text)"
        )
    values = all_strings(dict(secret) if isinstance(secret, Mapping) else _plain(secret))
    if values:
        _send(values)


def _plain(secret: str | Iterable[Any]) -> str | list[Any]:
    return secret if isinstance(secret, str) else list(secret)


def _send(values: list[str]) -> None:
    from airlock.execution.comms import get_channel  # noqa: PLC0415 -- runner-only path
    from airlock.execution.protocol import MaskSecret, OKResponse  # noqa: PLC0415

    try:
        channel = get_channel()
    except RuntimeError:  # no task runs in this process: no log to protect
        return
    channel.call(MaskSecret(values=values), OKResponse)
