"""Who holds a lease: a controller's owner id, and whether a local holder has provably died.

A lease normally outlives a crashed holder by its TTL. When the holder was a controller process
on this same host that no longer exists (a `setpoint run` killed with ``kill -9``), waiting out the
TTL only delays the user, so the owner id carries enough (host, pid, process start time) to check.
``psutil`` is imported where it is used (as before this module was split out of the controller):
only a running controller needs it.
"""

from __future__ import annotations

import os
import socket
import uuid


def local_owner_id() -> str:
    """``host:pid:start-time:nonce`` — enough for a controller on the same host to tell it died."""
    import psutil

    started = int(psutil.Process().create_time() * 1000)
    return f"{socket.gethostname()}:{os.getpid()}:{started}:{uuid.uuid4().hex[:6]}"


def owner_is_dead(owner: str) -> bool:
    """True only if ``owner`` names a controller process on this host that no longer exists.

    A lease normally expires after its TTL; when the holder was a process on this same machine
    that is provably gone (``kill -9`` of a `setpoint run`), waiting out the TTL is pointless.
    """
    import psutil

    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        proc = psutil.Process(int(parts[1]))
        return int(proc.create_time() * 1000) != int(parts[2]) or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, ValueError):
        return False
