"""Real servers on 127.0.0.1 for the workload tests: the apps as subprocesses, fake upstreams.

Apps run as subprocesses (``python -m workloads.runtime.<app>``) with PORT=0; each logs the port the kernel
gave it, so parallel test workers never fight over fixed ports. Fake upstreams run in-process on
threads, also on port 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from workloads.runtime.common import drain

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
"""How long teardown waits for the apps to stop on SIGTERM before it kills them."""


@dataclass
class App:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def logs(self) -> list[dict[str, Any]]:
        lines = self.stdout.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def drain_headers(self) -> dict[str, str]:
        """What the preStop hook presents: the key the app's supervisor wrote for this start."""
        key_file = drain.SHARED_DIRECTORY / drain.KEY_FILE.format(port=self.port)
        return {drain.KEY_HEADER: key_file.read_text()}

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)


def _base_env() -> dict[str, str]:
    # A clean environment: settings from the developer's shell must not leak into the apps.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOST": "127.0.0.1",
        "PORT": "0",
    }


def _wait_listening(proc: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in stdout.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == "listening":
                return int(record["port"])
        if proc.poll() is not None:
            pytest.fail(
                f"app exited with {proc.returncode} before listening:\n"
                f"{stdout.read_text()}\n{stderr.read_text()}"
            )
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"app did not listen within {START_TIMEOUT}s:\n{stdout.read_text()}\n{stderr.read_text()}")


@dataclass
class Launcher:
    directory: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list[subprocess.Popen[bytes]])

    def spawn(
        self,
        module: str,
        env: dict[str, str],
        *,
        prefix: Sequence[str] = (),
        cwd: Path = REPO,
        base_env: bool = True,
    ) -> tuple[subprocess.Popen[bytes], Path, Path]:
        n = len(self.started)
        stdout = self.directory / f"{module}-{n}.out"
        stderr = self.directory / f"{module}-{n}.err"
        full_env = {**_base_env(), **env} if base_env else env
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", module],
                cwd=cwd,
                env=full_env,
                stdout=out,
                stderr=err,
                # Its own process group, so teardown also reaches workers it forked.
                start_new_session=True,
            )
        self.started.append(proc)
        return proc, stdout, stderr

    def start(self, module: str, env: dict[str, str], **kwargs: Any) -> App:
        proc, stdout, stderr = self.spawn(module, env, **kwargs)
        return App(proc, _wait_listening(proc, stdout, stderr), stdout, stderr)

    def stop_all(self) -> None:
        """SIGTERM first, so each supervisor removes the drain files it made in /dev/shm (a SIGKILL
        left them there, thousands on a machine that runs the suite often); SIGKILL what still runs."""
        for proc in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@dataclass
class Upstream:
    """A fake colorapp on a thread: fixed status, body and delay; records what it was sent."""

    status: int = 200
    body: bytes = b"green"
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0
    statuses: list[int] = field(default_factory=list[int])
    """Statuses for the first requests, in order; then ``status``."""
    headers: dict[str, str] = field(default_factory=dict[str, str])
    chunked: bool = False
    """Send the body without Content-Length (chunked), so the size is known only by reading it."""
    requests: list[dict[str, str]] = field(default_factory=list[dict[str, str]])
    raw: list[tuple[str, str, list[tuple[str, str]]]] = field(
        default_factory=list[tuple[str, str, list[tuple[str, str]]]]
    )
    """(method, path, headers in the order received, names as sent) of each request."""
    got_request: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def handler_for(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            upstream.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            upstream.raw.append((self.command, self.path, list(self.headers.items())))
            status = upstream.statuses.pop(0) if upstream.statuses else upstream.status
            upstream.got_request.set()
            if upstream.delay:
                time.sleep(upstream.delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", upstream.content_type)
                for name, value in upstream.headers.items():
                    self.send_header(name, value)
                if upstream.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(upstream.body), 16384):
                        piece = upstream.body[start : start + 16384]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(upstream.body)))
                self.end_headers()
                self.wfile.write(upstream.body)
            except OSError:
                pass  # the caller gave up (a timeout or size test); nothing to do

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@dataclass
class ScriptedUpstream:
    """An upstream that misbehaves on purpose: after each request head it sends ``reply`` as raw bytes
    (anything, valid HTTP or not) and closes, or resets the connection when ``reset`` is set."""

    reply: bytes = b""
    reset: bool = False
    unsolicited: bytes = b""
    """When set, the connection stays open after ``reply``; these bytes follow 0.2 s later, answering
    no request, and the next request on the connection is answered again."""
    requests: int = 0
    connections: int = 0
    received: list[bytes] = field(default_factory=list[bytes])
    """Each request's head as the bytes that arrived."""
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def handler(self) -> type[socketserver.BaseRequestHandler]:
        upstream = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(5)
                upstream.connections += 1
                with contextlib.suppress(OSError):
                    while self.answer(conn) and upstream.unsolicited:
                        time.sleep(0.2)
                        conn.sendall(upstream.unsolicited)

            def answer(self, conn: socket.socket) -> bool:
                """Read one request head and send ``reply``; False when the client closed first."""
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return False
                    head += chunk
                upstream.requests += 1
                upstream.received.append(head)
                if upstream.reset:
                    # A zero linger makes close() send RST instead of FIN.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return False
                conn.sendall(upstream.reply)
                return True

        return Handler


def serving_processes(supervisor: int) -> list[int]:
    """The supervisor's child processes (granian's serving processes), from /proc."""
    return [int(pid) for pid in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()]


def connection_owners(processes: Sequence[int], server_port: int) -> dict[int, int]:
    """For each established connection to ``server_port`` on 127.0.0.1: client port -> serving process.

    Matches the socket inodes each process holds (/proc/PID/fd) with the kernel's table of IPv4
    connections (/proc/net/tcp), so a test knows which process took which of its connections.
    """
    holder: dict[str, int] = {}
    for pid in processes:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    holder[target[len("socket:[") : -1]] = pid
    owners: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        established = fields[3] == "01"
        if local_port == server_port and established and fields[9] in holder:
            owners[remote_port] = holder[fields[9]]
    return owners


def unused_port() -> int:
    """A port with nothing listening (bound then released; the kernel does not hand it out again soon)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def can_make_read_only_root() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -o remount,bind,ro / && ! test -w /",
        ],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return probe.returncode == 0
