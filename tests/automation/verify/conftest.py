"""Fixtures for the verification tests: fake "front" HTTP servers on 127.0.0.1 and a fake clock.

The fake front serves colors from a fixed cyclic schedule, so the counts over a multiple of the
schedule length are exact no matter how concurrent requests interleave: no randomness, no flakes.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class FrontBehaviour:
    """How the fake front answers ``GET /color``."""

    schedule: Sequence[str] = ("blue", "red")
    status: int = 200
    delay_s: float = 0.0
    json_body: bool = False
    fail_hits: frozenset[int] = frozenset()
    """1-based request numbers that get a 502 instead of a color."""
    version_schedule: Sequence[str] | None = None
    """When set, ``x-crossmesh-version`` follows this cycle (the body still follows ``schedule``)."""


@dataclass
class FakeFront:
    behaviour: FrontBehaviour
    url: str = ""
    hits: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    paths: list[str] = field(default_factory=list[str])
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog of 5 drops SYNs when 20 clients connect at once, and the kernel's
    # 1 s SYN retry then shows up as a bogus 1 s p99.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that time out hang up mid-answer; the resulting BrokenPipe is expected noise.
        pass


def _handler_for(front: FakeFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 with Content-Length keeps connections alive, like a real front behind an ELB.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            behaviour = front.behaviour
            with front.lock:
                front.hits += 1
                hit = front.hits
                front.in_flight += 1
                front.max_in_flight = max(front.max_in_flight, front.in_flight)
                front.paths.append(self.path)
            try:
                if behaviour.delay_s:
                    # Wait on the stop event, not time.sleep, so teardown releases slow handlers.
                    front.stop.wait(behaviour.delay_s)
                if behaviour.status != 200 or hit in behaviour.fail_hits:
                    status = 502 if hit in behaviour.fail_hits else behaviour.status
                    self._send(status, b"upstream connect error", "text/plain")
                    return
                color = behaviour.schedule[(hit - 1) % len(behaviour.schedule)]
                versions = behaviour.version_schedule
                version = versions[(hit - 1) % len(versions)] if versions else None
                if behaviour.json_body:
                    self._send(200, json.dumps({"color": color}).encode(), "application/json", version)
                else:
                    self._send(200, color.encode(), "text/plain", version)
            finally:
                with front.lock:
                    front.in_flight -= 1

        def _send(self, status: int, body: bytes, content_type: str, version: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if version is not None:
                self.send_header("X-Crossmesh-Version", version)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def fake_front() -> Iterator[Callable[..., FakeFront]]:
    """Factory: ``fake_front(schedule=[...], status=..., delay_s=...)`` starts a server on an ephemeral port."""
    servers: list[tuple[_QuietServer, FakeFront, threading.Thread]] = []

    def start(**behaviour: Any) -> FakeFront:
        front = FakeFront(FrontBehaviour(**behaviour))
        server = _QuietServer(("127.0.0.1", 0), _handler_for(front))
        front.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, front, thread))
        return front

    yield start
    for server, front, thread in servers:
        front.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A 127.0.0.1 URL where nothing listens (bound, then released), so connects are refused fast."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called (or ``advance`` explicitly)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, "poll_until must never ask for a negative sleep"
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
