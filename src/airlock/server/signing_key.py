"""The token signing key: read from the operator's file, or generated once and kept private.

The key signs every task token (and worker credential). It lives in a file, never in an
environment variable, so that it cannot leak into a child process's environment:

* ``jwt_secret_file`` set (``AIRLOCK_JWT_SECRET_FILE``): the operator's file, which must exist;
* otherwise ``<home>/jwt_secret``, generated on first start with mode 0600 (created atomically,
  so two services starting at once agree on one key).

The key is never logged: nothing here prints it or puts it in an error message.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import TYPE_CHECKING

from airlock.exceptions import ConfigError
from airlock.server.auth import MIN_SECRET_BYTES, TokenSigner

if TYPE_CHECKING:
    from pathlib import Path

    from airlock.settings import Settings

GENERATED_KEY_BYTES = 64
"""Random bytes in a generated key (written as 86 URL-safe characters)."""

_PRIVATE_MODE = 0o600
_WIDER_THAN_OWNER = stat.S_IRWXG | stat.S_IRWXO


def load_signing_key(settings: Settings) -> bytes:
    """Return the signing key, generating ``<home>/jwt_secret`` on first use.

    Raises:
        ConfigError: the operator's key file is missing, readable by others, or too short.
    """
    path = settings.signing_key_file
    if settings.jwt_secret_file is None and not path.exists():
        _create_key_file(path)
    return _read_key(path)


def signer_from_settings(settings: Settings) -> TokenSigner:
    """Return a :class:`TokenSigner` using the configured key and token lifetimes."""
    return TokenSigner(
        load_signing_key(settings),
        execution_lifetime=settings.token_lifetime,
        workload_lifetime=settings.workload_token_lifetime,
    )


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(GENERATED_KEY_BYTES).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_MODE)
    except FileExistsError:  # another service created it first: use theirs
        return
    try:
        os.write(fd, key + b"\n")
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    finally:
        os.close(fd)


def _read_key(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"the token signing key file {path} does not exist: create it with random bytes "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(64))' > FILE`) "
            "and `chmod 600` it, or unset AIRLOCK_JWT_SECRET_FILE to have one generated"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the token signing key file {path}: {exc}") from None
    if mode & _WIDER_THAN_OWNER:
        raise ConfigError(
            f"the token signing key file {path} can be read by other users "
            f"(mode {stat.filemode(mode)}): run `chmod 600 {path}`"
        )
    if len(key) < GENERATED_KEY_BYTES or len(key) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the token signing key in {path} is {len(key)} bytes long; "
            f"use at least {GENERATED_KEY_BYTES} random bytes"
        )
    return key
