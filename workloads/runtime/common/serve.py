"""Runs an app under granian with the limits the apps rely on the server for.

granian (Rust, hyper underneath) was chosen because it enforces what a pod facing hostile clients
needs, measured on 127.0.0.1 (workloads/README.md): a request head larger than its buffer gets 431
and the connection closed; a client that does not finish its head within the header-read timeout is
closed, and the same timer closes idle keep-alive connections; ``backpressure`` caps the connections
one process accepts (the rest wait in the kernel's backlog, never answered 503); SIGTERM stops
accepting and lets requests in flight finish. Only HTTP/1.1 is served: those limits are HTTP/1
settings, and granian's HTTP/2 in clear text (on by default) would let a client past all of them.

``WORKERS`` processes serve (the Deployments run two: one Python process runs requests on one core
at a time); granian's supervisor forwards SIGTERM to them, and if one dies it stops the others and
exits 1, so the kubelet restarts the container (granian's respawning is left off). The drain
state set by ``POST /drain`` is shared by all of them through a file this supervisor creates before
they start and removes when they have stopped, and so is the key a drain call must present
(``drain``).
"""

from __future__ import annotations

import contextlib

# The announcing thread below connects while granian forks its worker; a connect to a host given as
# text imports the idna codec on first use, and a fork taken while that import holds its module lock
# leaves the worker's own first upstream connect blocked forever on that lock. Imported here, before
# any thread starts, so no import is in flight at the fork.
import encodings.idna  # noqa: F401  # pyright: ignore[reportUnusedImport] - imported for its side effect (see above)
import ipaddress
import logging
import multiprocessing.connection
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.server.mp import MPServer
from pydantic import ValidationError

from workloads.runtime.common import drain, logs
from workloads.runtime.common.settings import MAX_HEADER_BYTES, ServerSettings, settings_error

log = logging.getLogger("app")

SERVER_BUFFER_BYTES = MAX_HEADER_BYTES + 16 * 1024
"""The server's per-connection read buffer: the header limit plus room for the request line and framing.
Heads between the two get the app's exact 431; larger ones the server's own 431, unread."""
SHUTDOWN_TIMEOUT_SECONDS = 25
"""After SIGTERM, requests in flight get this long (the pod's grace period is longer)."""


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _announce_when_listening(host: str, port: int, workers: int, state_file: Path | None) -> None:
    """Log ``listening`` with the port once connections are accepted (tests and tools wait for it)."""
    target = "127.0.0.1" if ipaddress.ip_address(host).is_unspecified else host
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection((target, port), timeout=0.5).close()
        except OSError:
            time.sleep(0.02)
            continue
        log.info(
            "listening",
            extra={
                "address": host,
                "port": port,
                "workers": workers,
                "drain_state": str(state_file) if state_file else None,
            },
        )
        return


class Server(MPServer):
    """granian's multi-process server, stopping its serving processes without a race."""

    def _stop_workers(self) -> None:
        """SIGTERM every serving process, wait for each until the shutdown deadline, kill what is left.

        granian's own version asks each process ``is_alive()`` after ``join()``. Its watcher thread per
        process waits on the same child, and when that thread reaps it first, ``is_alive()`` cannot
        tell (the exit status went to the watcher): granian then waits 1 ms, logs "Killing worker-N
        after it refused to gracefully stop" and sends SIGKILL to a process that has already exited
        (granian 2.8.9, ``server/common.py``). Here the exit is read from the process's sentinel, which
        closes when the process ends, whichever thread reaps it. A SIGHUP reload (``_respawn_workers``),
        which no pod is sent, still stops the old processes granian's way.
        """
        for worker in self.wrks:
            worker.terminate()
        started = time.monotonic()
        # Always a deadline: granian waits forever when none is set; ``server()`` sets 25 s anyway.
        deadline = started + (self.workers_kill_timeout or SHUTDOWN_TIMEOUT_SECONDS)
        for worker in self.wrks:
            process = cast(BaseProcess, worker.inner)  # granian sets it untyped: a multiprocessing Process
            if not multiprocessing.connection.wait([process.sentinel], max(deadline - time.monotonic(), 0.0)):
                log.warning(
                    "serving process did not stop after SIGTERM; killing it",
                    extra={"pid": process.pid, "waited_s": round(time.monotonic() - started, 1)},
                )
                worker.kill()
            process.join()
        self.wrks.clear()


def server(target: str, settings: ServerSettings, service: str) -> Server:
    port = settings.port or _free_port(settings.host)
    return Server(
        target,
        address=settings.host,
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        workers=settings.workers,
        loop=Loops.auto,
        websockets=False,
        backpressure=settings.max_connections,
        http1_settings=HTTP1Settings(
            header_read_timeout=settings.header_read_timeout_ms,
            keep_alive=True,
            max_buffer_size=SERVER_BUFFER_BYTES,
        ),
        log_dictconfig=logs.logging_config(service, settings.log_level),
        log_level=settings.log_level,  # type: ignore[arg-type] # granian's LogLevels enum takes these names
        log_access=False,
        workers_kill_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        factory=True,
    )


def _refuse(service: str, message: str, status: int) -> int:
    """Stop before serving: the reason as a JSON log line and as plain text on stderr."""
    log.error(message)
    print(f"{service}: {message}", file=sys.stderr)
    return status


def main(service: str, target: str, load: Callable[[], ServerSettings]) -> int:
    """``python -m workloads.runtime.<app>``: read settings (exit 2 naming the variable), then serve."""
    try:
        settings = load()
    except ValidationError as exc:
        logs.configure(service, "info")
        return _refuse(service, f"invalid configuration: {settings_error(exc)}", 2)
    logs.configure(service, settings.log_level)
    try:
        state_file: Path | None = drain.create()
    except OSError as exc:
        if settings.workers > 1:
            message = f"WORKERS={settings.workers} needs a drain state file the processes share: {exc}"
            return _refuse(service, message, 1)
        # One process keeps the state in its own memory; nothing needs the file.
        log.warning("no drain state file (%s); the one serving process keeps the state itself", exc)
        state_file = None
    if state_file is not None:
        os.environ[drain.DRAIN_STATE_VARIABLE] = str(state_file)
    key_file: Path | None = None
    try:
        running = server(target, settings, service)
        try:
            key, key_file = drain.write_key(running.bind_port)
            os.environ[drain.KEY_VARIABLE] = key
        except OSError as exc:
            # Outside a container (no /dev/shm): loopback alone admits a drain call.
            log.warning("no drain key file (%s); POST /drain is checked by address only", exc)
        threading.Thread(
            target=_announce_when_listening,
            args=(settings.host, running.bind_port, settings.workers, state_file),
            daemon=True,
        ).start()
        running.serve()
    finally:
        for made in (state_file, key_file):
            if made is not None:
                with contextlib.suppress(OSError):
                    made.unlink()
    log.info("stopped", extra={"exit_status": 0})
    return 0
