"""Runs a Service under uvicorn with Kubernetes-friendly shutdown.

On the first SIGTERM (or SIGINT) /healthz turns 503 at once; requests keep being served for
SHUTDOWN_DELAY_SECONDS, which covers the lag before Kubernetes and the mesh stop routing to the pod;
then the listener closes and in-flight requests finish, up to DRAIN_TIMEOUT_SECONDS. The process
then exits 0. A second signal skips the rest of the delay; a second SIGINT also stops waiting.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from types import FrameType

import uvicorn

from workloads.runtime.common.config import (
    ConfigError,
    ServerSettings,
    XRaySettings,
    server_settings,
    xray_settings,
)
from workloads.runtime.common.logs import JsonLog, install_stdlib_bridge
from workloads.runtime.common.web import Lifecycle, Service


class DrainingServer(uvicorn.Server):
    """uvicorn's server with the shutdown delay added.

    uvicorn installs ``handle_exit`` as the handler for SIGINT/SIGTERM and checks ``should_exit`` in
    ``on_tick`` every 0.1 s; overriding those two hooks is enough. Not recording the signal (as the base
    class does) also stops uvicorn from re-raising it after shutdown, which would turn a clean drain
    into an exit "killed by SIGTERM" instead of status 0.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        lifecycle: Lifecycle,
        delay: float,
        log: JsonLog,
        parent_pid: int | None = None,
    ) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._delay = delay
        self._log = log
        self._stop_at: float | None = None
        # Set in a pre-forked worker: the supervisor it must not outlive.
        self._parent_pid = parent_pid

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        name = signal.Signals(sig).name
        if self._stop_at is None:
            self._lifecycle.draining = True
            self._stop_at = time.monotonic() + self._delay
            self._log.log("info", "draining", signal=name, shutdown_delay_seconds=self._delay)
            if self._delay <= 0:
                self.should_exit = True
            return
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self._log.log("info", "second signal, stopping now", signal=name)
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._parent_pid is not None and self._stop_at is None and os.getppid() != self._parent_pid:
            # The supervisor was killed outright (SIGKILL): nobody would ever stop this worker.
            self._log.log("warning", "supervisor gone, draining")
            self.handle_exit(signal.SIGTERM, None)
        if self._stop_at is not None and not self.should_exit and time.monotonic() >= self._stop_at:
            self._log.log("info", "shutdown delay over, closing listener and draining")
            self.should_exit = True
        return await super().on_tick(counter)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # With PORT=0 the kernel picks the port; logging it lets tests and tools find the server.
            bound = [sock.getsockname() for server in self.servers for sock in server.sockets]
            self._log.log("info", "listening", address=bound[0][0], port=bound[0][1], pid=os.getpid())


def uvicorn_config(service: Service, settings: ServerSettings) -> uvicorn.Config:
    fast_loop = importlib.util.find_spec("uvloop") is not None
    fast_parser = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        service,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if fast_loop else "asyncio",
        http="httptools" if fast_parser else "h11",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=settings.keep_alive,
        timeout_graceful_shutdown=max(1, round(settings.drain_timeout)),
    )


def run(service: Service, settings: ServerSettings) -> int:
    """Serve until drained; returns the process exit status."""
    log = service.log
    install_stdlib_bridge(log, settings.log_level)
    config = uvicorn_config(service, settings)
    try:
        if settings.workers == 1:
            DrainingServer(config, service.lifecycle, settings.shutdown_delay, log).run()
            status = 0
        else:
            status = _run_workers(service, config, settings)
    finally:
        log.flush()
    log.log("info", "stopped", exit_status=status)
    return status


def _run_workers(service: Service, config: uvicorn.Config, settings: ServerSettings) -> int:
    """Pre-fork WEB_CONCURRENCY processes sharing one listening socket; each drains on its own."""
    log = service.log
    sock = config.bind_socket()
    # Listen before forking: connections then queue in the kernel until a worker accepts them,
    # instead of being refused while the workers start.
    sock.listen(config.backlog)
    host, port = sock.getsockname()[:2]
    log.log("info", "listening", address=host, port=port, pid=os.getpid(), workers=settings.workers)
    log.flush()

    parent_pid = os.getpid()

    def child() -> None:
        # Until uvicorn installs its handlers, a signal must not run the parent's forwarding handler.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        server = DrainingServer(config, service.lifecycle, settings.shutdown_delay, log, parent_pid)
        server.run(sockets=[sock])
        log.flush()

    # fork keeps start-up cheap and hands the socket over without pickling; nothing runs yet
    # (no event loop, no threads) that fork could break.
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=child, name=f"worker-{n}") for n in range(settings.workers)]
    for process in children:
        process.start()
    sock.close()

    stopping = False

    def forward(sig: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in children:
            if process.pid is not None and process.exitcode is None:
                # Always SIGTERM: after Ctrl+C the workers already got SIGINT from the terminal, and
                # a second SIGINT would make them stop waiting for requests in flight.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while any(process.exitcode is None for process in children):
        multiprocessing.connection.wait([p.sentinel for p in children if p.exitcode is None], timeout=0.5)
        for process in children:
            if process.exitcode is not None and process.exitcode != 0 and status == 0:
                status = 1
                if not stopping:
                    # A worker died on its own: stop the rest and let the orchestrator restart the pod
                    # rather than run with less capacity than configured.
                    log.log("error", "worker exited, stopping", worker=process.name, code=process.exitcode)
                    forward(signal.SIGTERM, None)
    return status


Builder = Callable[[Mapping[str, str], ServerSettings, XRaySettings, JsonLog], Service]


def main(name: str, build: Builder, env: Mapping[str, str] | None = None) -> int:
    """Entry point of ``python -m workloads.<name>``: read settings, fail fast on bad ones, serve."""
    env = os.environ if env is None else env
    log = JsonLog(name)
    try:
        server = server_settings(env)
        xray = xray_settings(name, env)
        log = JsonLog(name, server.log_level)
        service = build(env, server, xray, log)
    except ConfigError as exc:
        log.log("error", f"invalid configuration: {exc}")
        log.flush()
        # Also plain on stderr: the first thing a person running it by hand will read.
        print(f"{name}: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if xray.requested and not xray.enabled:
        log.log("warning", "XRAY_ENABLED is set but AWS_XRAY_DAEMON_ADDRESS is not; no segments are sent")
    return run(service, server)
