"""Whether the pod is draining, one answer for every serving process of the pod.

A pod serves from ``WORKERS`` processes. The preStop hook's ``POST /drain`` reaches one of them, while
readiness probes and clients reach any, so the state cannot live in one process's memory. It is one
byte of a small file that every serving process maps into memory (``mmap``): the process that takes
the drain call sets it, and every process sees it on its next request, with no system call on the
request path and no wait.

The supervisor creates the file before it starts the serving processes (:func:`create`), hands its
path down in ``DRAIN_STATE_VARIABLE`` (inherited whether the processes are forked or spawned), and
removes it when it stops. The file goes in ``/dev/shm``: a memory file system every container has,
writable under ``readOnlyRootFilesystem``; elsewhere, in the temporary directory.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path

DRAIN_STATE_VARIABLE = "CROSSMESH_DRAIN_STATE"
SHARED_DIRECTORY = Path("/dev/shm")  # noqa: S108 - a per-pod memory file system, not a shared /tmp
_DRAINING = 1


def create(directory: Path | None = None) -> Path:
    """A new one-byte state file (not draining), readable and writable by this user only."""
    where = directory or (SHARED_DIRECTORY if SHARED_DIRECTORY.is_dir() else Path(tempfile.gettempdir()))
    fd, name = tempfile.mkstemp(prefix="crossmesh-drain-", dir=where)
    try:
        os.write(fd, b"\0")
    finally:
        os.close(fd)
    return Path(name)


class DrainState:
    """Set once by ``POST /drain``; read by ``/healthz`` and on every response."""

    def __init__(self, path: Path | None = None) -> None:
        self._local = False
        self._shared: mmap.mmap | None = None
        if path is not None:
            with path.open("r+b") as file:
                self._shared = mmap.mmap(file.fileno(), 1)

    @classmethod
    def from_environment(cls) -> DrainState:
        """Shared through the file the supervisor named, or this process's own when none was named."""
        path = os.environ.get(DRAIN_STATE_VARIABLE)
        return cls(Path(path) if path else None)

    @property
    def shared(self) -> bool:
        return self._shared is not None

    @property
    def draining(self) -> bool:
        if self._shared is not None:
            return self._shared[0] == _DRAINING
        return self._local

    def drain(self) -> bool:
        """Start draining; True when this call started it, False when it had already started."""
        if self.draining:
            return False
        if self._shared is not None:
            self._shared[0] = _DRAINING
        else:
            self._local = True
        return True
