"""Running a task's runner as another Unix user (``run_as_user``).

The supervisor resolves the user name before the runner starts (it never imports user code, so
the name comes with the workload) and checks that it can switch to it: only a supervisor running
as root can. The switch happens in the runner process before any user code runs: a forked
runner calls :func:`become` right after the fork; an exec'd runner is started by ``Popen`` with
``user=``, ``group=`` and ``extra_groups=``. Either way the runner keeps the pipes and socket it
was given (they are already open), gets the user's ``HOME``, ``USER`` and ``LOGNAME``, and can no
longer read the supervisor's memory (``/proc/<pid>/mem`` of a root process is out of reach).

Only the standard library and msgspec are imported here: the fork server imports this module.
"""

from __future__ import annotations

import os
import pwd

import msgspec

from airlock.exceptions import AirlockError


class RunAsError(AirlockError):
    """The runner cannot run as the user the task asks for."""


class RunAsUser(msgspec.Struct, frozen=True, kw_only=True):
    """A Unix user to run a runner as, resolved to ids by the supervisor."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    def environment(self) -> dict[str, str]:
        """The variables that say who the user is, for the runner's environment."""
        return {"HOME": self.home, "USER": self.name, "LOGNAME": self.name}


def resolve_run_as(name: str | None) -> RunAsUser | None:
    """The user named ``name`` to switch to, or ``None`` when no switch is needed.

    No switch is needed without a name, or when it names the user the supervisor runs as.

    Raises:
        RunAsError: no such user exists, or the supervisor is not root and so cannot switch.
    """
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise RunAsError(
            f"run_as_user {name!r} is not a user on this host: create it, or change the task's "
            "run_as_user (or the default_run_as_user setting)"
        ) from None
    if entry.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        current = pwd.getpwuid(os.geteuid()).pw_name
        raise RunAsError(
            f"the worker runs as {current!r} and cannot start a runner as {name!r}: only a "
            "worker running as root can switch users; run it as root or unset run_as_user"
        )
    groups = tuple(sorted(set(os.getgrouplist(name, entry.pw_gid))))
    return RunAsUser(
        name=name, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups, home=entry.pw_dir
    )


def become(user: RunAsUser) -> None:
    """Switch this process to ``user`` for good: groups, then group, then user.

    Called in a freshly forked runner before any user code runs. Setting the user last drops
    the right to change the others; setting both real and effective ids leaves no way back.
    """
    os.setgroups(list(user.groups))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    os.environ.update(user.environment())
