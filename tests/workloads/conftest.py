"""Fixtures for the workload tests; the machinery is in servers.py."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.servers import App, Launcher, ScriptedUpstream, Upstream, handler_for


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path)
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    """One colorapp and one front in front of it, shared by the read-only tests of a module."""
    launcher = Launcher(tmp_path_factory.mktemp("pair"))
    try:
        color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
        front = launcher.start("workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{color.port}"})
        yield color, front
    finally:
        launcher.stop_all()


class _Servers:
    """Test servers run on threads of this process, each on a port the kernel picks; stopped together."""

    def __init__(self) -> None:
        self.running: list[socketserver.TCPServer] = []

    def start(self, server: socketserver.TCPServer) -> int:
        if isinstance(server, socketserver.ThreadingMixIn):
            server.daemon_threads = True
            server.block_on_close = False
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.running.append(server)
        return int(server.server_address[1])

    def stop(self) -> None:
        for server in self.running:
            server.shutdown()
            server.server_close()


@pytest.fixture
def fake_upstream() -> Iterator[Callable[..., Upstream]]:
    servers = _Servers()

    def make(**kwargs: Any) -> Upstream:
        upstream = Upstream(**kwargs)
        upstream.port = servers.start(ThreadingHTTPServer(("127.0.0.1", 0), handler_for(upstream)))
        return upstream

    yield make
    servers.stop()


@pytest.fixture
def scripted_upstream() -> Iterator[Callable[..., ScriptedUpstream]]:
    servers = _Servers()

    def make(**kwargs: Any) -> ScriptedUpstream:
        upstream = ScriptedUpstream(**kwargs)
        upstream.port = servers.start(socketserver.ThreadingTCPServer(("127.0.0.1", 0), upstream.handler()))
        return upstream

    yield make
    servers.stop()
