"""`verify ENV --front-url` against the real apps on 127.0.0.1, healthy and broken.

The apps run as subprocesses (`python -m workloads.runtime.colorapp`, `python -m workloads.runtime.front`) on ports
the kernel picks (PORT=0; each logs the port it got), so parallel test workers never collide. A
round-robin balancer on a thread stands in for Envoy's weighted route between blue and red. Broken
meshes must fail: only blue answering while the weights say 50/50, colorapp down, a front slower
than the timeout, a front that never answers.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from automation.cli import app
from automation.exit_codes import ExitCode
from tests.support import PROJECT_DIR

pytestmark = pytest.mark.network

START_TIMEOUT_S = 20.0


@dataclass
class App:
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def spawn(module: str, env: dict[str, str], directory: Path, name: str) -> App:
    stdout, stderr = directory / f"{name}.out", directory / f"{name}.err"
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOST": "127.0.0.1",
        "PORT": "0",  # the kernel picks; the app logs it
        "ACCESS_LOG": "false",
    }
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=PROJECT_DIR,
            env=base | env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: teardown reaches forked workers too
        )
    return App(proc, stdout, stderr)


def wait_listening(app: App) -> App:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in app.stdout.read_text().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("msg") == "listening":
                    app.port = int(record["port"])
                    return app
        if app.proc.poll() is not None:
            pytest.fail(f"app exited with {app.proc.returncode}: {app.stderr.read_text()}")
        time.sleep(0.02)
    pytest.fail(f"app did not listen within {START_TIMEOUT_S}s: {app.stdout.read_text()}")


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connections when front opens 20 at once.
    request_queue_size = 128
    daemon_threads = True
    block_on_close = False


def _server(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def balancer(upstreams: list[int]) -> ThreadingHTTPServer:
    """Strict round robin over the colorapps: an exact 50/50 split, like Envoy's weighted route."""
    turn = itertools.cycle(upstreams)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are separate writes; without this, Nagle plus delayed ACKs add ~40 ms.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            with lock:
                port = next(turn)
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                upstream.request("GET", self.path)
                answer = upstream.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type") or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                upstream.close()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return _server(Handler)


def slow_front(release: threading.Event) -> ThreadingHTTPServer:
    """A front that takes far longer than any timeout the tests use."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            release.wait(30)
            with contextlib.suppress(OSError):  # the client gave up long ago
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"blue")

        def log_message(self, format: str, *args: object) -> None:
            pass

        def handle_error(self) -> None:
            pass

    return _server(Handler)


@dataclass
class Mesh:
    front_split: App
    front_blue_only: App
    front_colorapp_down: App
    slow_front_url: str
    refusing_url: str


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    directory = tmp_path_factory.mktemp("apps")
    apps: list[App] = []
    servers: list[ThreadingHTTPServer] = []
    release = threading.Event()
    # Bound but never listening: connections are refused, and no other process can take the port.
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))
    refused_port = refusing.getsockname()[1]
    try:
        blue = spawn("workloads.runtime.colorapp", {"COLOR": "blue"}, directory, "blue")
        red = spawn("workloads.runtime.colorapp", {"COLOR": "red"}, directory, "red")
        apps += [blue, red]
        wait_listening(blue)
        wait_listening(red)
        split = balancer([blue.port, red.port])
        servers.append(split)
        fronts = {
            "split": spawn(
                "workloads.runtime.front",
                {"COLOR_HOST": f"127.0.0.1:{split.server_address[1]}"},
                directory,
                "f1",
            ),
            "blue": spawn(
                "workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{blue.port}"}, directory, "f2"
            ),
            "down": spawn(
                "workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{refused_port}"}, directory, "f3"
            ),
        }
        apps += fronts.values()
        for front in fronts.values():
            wait_listening(front)
        slow = slow_front(release)
        servers.append(slow)
        yield Mesh(
            front_split=fronts["split"],
            front_blue_only=fronts["blue"],
            front_colorapp_down=fronts["down"],
            slow_front_url=f"http://127.0.0.1:{slow.server_address[1]}",
            refusing_url=f"http://127.0.0.1:{refused_port}",
        )
    finally:
        release.set()
        for server in servers:
            server.shutdown()
            server.server_close()
        for proc in (a.proc for a in apps):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        refusing.close()


def verify(*args: str) -> Result:
    return CliRunner().invoke(app, ["verify", "dev", *args])


def report_of(outcome: Result) -> dict[str, Any]:
    lines = outcome.stdout.strip().splitlines()
    assert len(lines) == 1, outcome.stdout
    return json.loads(lines[0])


def test_a_healthy_split_passes_with_exactly_the_report_shape(mesh: Mesh) -> None:
    outcome = verify("--front-url", mesh.front_split.url, "--requests", "60", "--json")
    assert outcome.exit_code == 0, outcome.output
    report = report_of(outcome)
    assert set(report) == {"ok", "checks", "http"}
    assert report["ok"] is True
    (check,) = report["checks"]
    assert set(check) == {"name", "ok", "detail"}
    assert check["name"] == f"http {mesh.front_split.url}/color"
    http = report["http"]
    assert set(http) == {"requests", "errors", "p50_ms", "p99_ms", "shares"}
    assert (http["requests"], http["errors"]) == (60, 0)
    assert http["shares"] == {"blue": 0.5, "red": 0.5}
    assert 0 < http["p50_ms"] <= http["p99_ms"]


def test_the_module_entry_point_prints_a_table(mesh: Mesh) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "automation",
            "verify",
            "dev",
            "--front-url",
            mesh.front_split.url,
            "--requests",
            "40",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "crossmesh verification" in done.stdout
    assert "verification passed" in done.stdout


def test_only_blue_answering_while_weights_are_50_50_fails(mesh: Mesh) -> None:
    outcome = verify("--front-url", mesh.front_blue_only.url, "--requests", "40", "--json")
    assert outcome.exit_code == ExitCode.VERIFY_FAILED == 3
    report = report_of(outcome)
    assert report["ok"] is False
    assert report["http"]["shares"] == {"blue": 1.0, "red": 0.0}
    assert "red" in report["checks"][0]["detail"]


def test_colorapp_down_fails_with_front_errors(mesh: Mesh) -> None:
    outcome = verify("--front-url", mesh.front_colorapp_down.url, "--requests", "20", "--json")
    assert outcome.exit_code == 3
    report = report_of(outcome)
    assert report["http"]["errors"] == 20
    assert "HTTP 502" in report["checks"][0]["detail"]
    assert report["http"]["p50_ms"] is None


def test_a_front_slower_than_the_timeout_fails_in_bounded_time(mesh: Mesh) -> None:
    started = time.monotonic()
    outcome = verify(
        "--front-url",
        mesh.slow_front_url,
        "--requests",
        "10",
        "--concurrency",
        "10",
        "--timeout",
        "0.5",
        "--json",
    )
    elapsed = time.monotonic() - started
    assert outcome.exit_code == 3
    report = report_of(outcome)
    assert report["http"]["errors"] == 10
    assert "timeout x10" in report["checks"][0]["detail"]
    # one round of 10 parallel requests, each cut at 0.5 s; far below the server's 30 s
    assert elapsed < 5.0


def test_a_front_that_never_answers_fails_after_the_deadline(mesh: Mesh) -> None:
    started = time.monotonic()
    outcome = verify("--front-url", mesh.refusing_url, "--deadline", "1", "--timeout", "0.5", "--json")
    assert outcome.exit_code == 3
    assert time.monotonic() - started < 6.0
    report = report_of(outcome)
    assert report["http"] is None
    assert "front never answered within 1s" in report["checks"][0]["detail"]


def test_the_table_names_the_failed_check(mesh: Mesh) -> None:
    outcome = verify("--front-url", mesh.front_blue_only.url, "--requests", "20")
    assert outcome.exit_code == 3
    assert "FAIL" in outcome.stdout
    assert "verification failed (1 of 1 checks)" in outcome.stdout


@pytest.mark.parametrize("url", ["ftp://example.com", "http://"])
def test_a_malformed_front_url_is_bad_input(url: str) -> None:
    outcome = verify("--front-url", url, "--json")
    assert outcome.exit_code == ExitCode.BAD_INPUT
    assert "--front-url" in outcome.stderr
    assert report_of(outcome)["error"]["kind"] == "bad_input"
