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

Who may drain: only a caller on loopback that also presents the key the supervisor wrote, at each
start, to ``/dev/shm/crossmesh-drain-key-<port>`` (mode 0600, so only the app's own user reads it;
the preStop hook runs as that user in the same container). Loopback alone is not enough: a proxy in
the pod (App Mesh's Envoy, or any sidecar a user adds) delivers every outside request from
127.0.0.1.
"""

from __future__ import annotations

import hmac
import mmap
import os
import secrets
import tempfile
from pathlib import Path

DRAIN_STATE_VARIABLE = "CROSSMESH_DRAIN_STATE"
KEY_VARIABLE = "CROSSMESH_DRAIN_KEY"
"""How the supervisor hands the key to its serving processes (inherited, like the state's path)."""
KEY_HEADER = "x-crossmesh-drain-key"
KEY_FILE = "crossmesh-drain-key-{port}"
"""In ``/dev/shm``; the preStop hook (workloads/deploy/manifests.py) reads the same name."""
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


def write_key(port: int, directory: Path = SHARED_DIRECTORY) -> tuple[str, Path]:
    """A fresh random key in the port's key file (replacing one a previous run left), 0600."""
    path = directory / KEY_FILE.format(port=port)
    key = secrets.token_hex(16)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        os.write(fd, key.encode())
    finally:
        os.close(fd)
    os.replace(name, path)
    return key, path


class DrainState:
    """Set once by ``POST /drain``; read by ``/healthz`` and on every response."""

    def __init__(self, path: Path | None = None, key: str | None = None) -> None:
        self.key = key
        self._local = False
        self._shared: mmap.mmap | None = None
        if path is not None:
            with path.open("r+b") as file:
                self._shared = mmap.mmap(file.fileno(), 1)

    @classmethod
    def from_environment(cls) -> DrainState:
        """Shared through the file the supervisor named, or this process's own when none was named."""
        path = os.environ.get(DRAIN_STATE_VARIABLE)
        return cls(Path(path) if path else None, os.environ.get(KEY_VARIABLE) or None)

    def admits(self, given: str | None) -> bool:
        """Whether a drain call's key is the supervisor's (any call, when it made none)."""
        if self.key is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.key.encode())

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
