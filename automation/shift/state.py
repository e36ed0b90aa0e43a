"""What a shift keeps between its steps and between runs: its saved state, its lease and its lock.

* **Saved state** (:class:`ShiftState`): where the shift started, where it goes, the steps, the last
  good weights and the next step. Kept in the stack's tags (``crossmesh:shiftState``, so ``--resume``
  works from another machine) and in ``build/shift/<env>.json`` (a copy for the operator).
* **Lease** (:class:`Lease`, stack tag ``crossmesh:shiftLease``): which run holds the stack, from
  which host and process, until when. Pulumi's own lock covers one update; a shift is many updates
  with holds and checks between them, so it needs its own. A lease not renewed by its ``until``
  (the holder died) may be taken over; one whose process is gone on this very host too.
* **OS lock** (:class:`FileLock`, ``build/shift/<env>.lock`` with ``flock``): refuses a second shift
  of the same stack on this machine at once, even in the moment between reading and writing the tag.

Stack tags are kept by the backend (Pulumi Cloud, and the self-managed backends), so two machines
see the same lease; reading then writing a tag is not atomic across machines, which is why the lease
is read back after it is written and the second writer of a race sees the first one's id.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, cast

LEASE_TAG = "crossmesh:shiftLease"
STATE_TAG = "crossmesh:shiftState"


@dataclass(frozen=True)
class Lease:
    run_id: str
    host: str
    pid: int
    until: float
    """Epoch seconds; renewed before every step."""

    def to_tag(self) -> str:
        return json.dumps({"id": self.run_id, "host": self.host, "pid": self.pid, "until": round(self.until)})

    @staticmethod
    def from_tag(text: str | None) -> Lease | None:
        if not text:
            return None
        try:
            raw = cast("dict[str, Any]", json.loads(text))
            return Lease(str(raw["id"]), str(raw["host"]), int(raw["pid"]), float(raw["until"]))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.until))
        return f"run {self.run_id} on {self.host} (pid {self.pid}), lease until {when}"


def new_lease(ttl_s: float, clock: Callable[[], float] = time.time) -> Lease:
    return Lease(uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(), clock() + ttl_s)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lease_is_live(
    lease: Lease, *, now: float, host: str, alive: Callable[[int], bool] = process_alive
) -> bool:
    """Another run's lease still counts: not expired, and (on this host) its process still exists."""
    if lease.until <= now:
        return False
    return not (lease.host == host and not alive(lease.pid))


@dataclass
class ShiftState:
    """A shift's progress, enough to resume it."""

    start: dict[str, int]
    target: dict[str, int]
    steps: list[int]
    last_good: dict[str, int]
    next_step: int
    """Index into the planned steps of the step to run next."""
    status: str = "running"
    """running, interrupted, failed or done."""
    previous_p99: dict[str, float] = field(default_factory=dict[str, float])

    def to_tag(self) -> str:
        """Compact (Pulumi Cloud keeps tag values up to 256 characters): no latencies."""
        compact = {
            "from": self.start,
            "to": self.target,
            "steps": self.steps,
            "good": self.last_good,
            "next": self.next_step,
            "status": self.status,
        }
        return json.dumps(compact, separators=(",", ":"))

    @staticmethod
    def from_tag(text: str | None) -> ShiftState | None:
        if not text:
            return None
        try:
            raw = cast("dict[str, Any]", json.loads(text))
            return ShiftState(
                start=_weights(raw["from"]),
                target=_weights(raw["to"]),
                steps=[int(s) for s in raw["steps"]],
                last_good=_weights(raw["good"]),
                next_step=int(raw["next"]),
                status=str(raw.get("status", "running")),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weights(value: object) -> dict[str, int]:
    return {str(k): int(v) for k, v in cast("Mapping[str, Any]", value).items()}


def write_state_file(path: Path, state: ShiftState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state.to_dict(), indent=2) + "\n")
    temporary.replace(path)


def read_state_file(path: Path) -> ShiftState | None:
    try:
        raw = cast("dict[str, Any]", json.loads(path.read_text()))
        return ShiftState(
            start=_weights(raw["start"]),
            target=_weights(raw["target"]),
            steps=[int(s) for s in raw["steps"]],
            last_good=_weights(raw["last_good"]),
            next_step=int(raw["next_step"]),
            status=str(raw["status"]),
            previous_p99={
                str(k): float(v) for k, v in cast("Mapping[str, Any]", raw.get("previous_p99", {})).items()
            },
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LockHeld(Exception):
    """Another process on this machine holds the shift lock of this stack."""


class FileLock:
    """An exclusive, non-blocking ``flock`` on a file, released when closed (or when the process dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        import fcntl  # noqa: PLC0415 - POSIX only; imported where it is used

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise LockHeld(str(self.path)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
