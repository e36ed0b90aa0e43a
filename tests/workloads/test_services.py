"""The two apps over real sockets on 127.0.0.1, each under its real server (granian)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.workloads.servers import (
    App,
    Launcher,
    Upstream,
    can_make_read_only_root,
    connection_owners,
    serving_processes,
    unused_port,
)
from workloads.runtime.common import drain

pytestmark = pytest.mark.network

JSON_ACCEPT = {"Accept": "application/json"}
TIMEOUT = httpx.Timeout(10.0)
NO_RETRIES = {"UPSTREAM_MAX_RETRIES": "0"}
CALLER_TRACE = "5759e988bd862e3fe1be46a994272793"


def get(url: str, headers: dict[str, str] | None = None, timeout: httpx.Timeout = TIMEOUT) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=timeout)


# --- colorapp ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/color", "/"])
def test_colorapp_answers_text_by_default_and_json_when_preferred(pair: tuple[App, App], path: str) -> None:
    color, _ = pair
    plain = get(color.url(path))
    assert plain.status_code == 200
    assert plain.text == "blue"
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.headers["x-crossmesh-version"] == "blue"

    as_json = get(color.url(path), JSON_ACCEPT)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {"color": "blue"}

    # Quality values decide, not just the presence of application/json.
    assert get(color.url(path), {"Accept": "application/json;q=0.2, text/plain"}).text == "blue"
    assert get(color.url(path), {"Accept": "text/plain;q=0.5, application/json"}).json() == {"color": "blue"}


def test_ping_and_healthz(pair: tuple[App, App]) -> None:
    for app in pair:
        ping = get(app.url("/ping"))
        assert (ping.status_code, ping.text) == (200, "pong")
        health = get(app.url("/healthz"))
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}


def test_unknown_path_and_method(pair: tuple[App, App]) -> None:
    color, _ = pair
    missing = get(color.url("/nope"))
    assert missing.status_code == 404
    assert missing.json()["error"] == "not found"
    posted = httpx.post(color.url("/color"), content=b"x", timeout=TIMEOUT)
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/color/", "/ping/", "/color%2F"])
def test_a_trailing_slash_is_not_found_rather_than_redirected_to_the_clients_host(
    pair: tuple[App, App], path: str
) -> None:
    # Starlette's default would answer 307 with a Location built from the Host header the client sent.
    for app in pair:
        response = httpx.get(app.url(path), headers={"Host": "evil.example"}, timeout=TIMEOUT)
        assert response.status_code == 404, (app, path)
        assert "location" not in response.headers
        assert response.json()["error"] == "not found"


def test_access_logs_are_one_json_object_per_line(pair: tuple[App, App]) -> None:
    color, front = pair
    seen_before = len(front.logs())  # this request's lines come after these
    # A caller's own context: front links to it and traces the request under an id of its own.
    traceparent = f"00-{CALLER_TRACE}-53995c3f42cd8ad8-01"
    assert get(front.url("/color?probe=access-log"), {"traceparent": traceparent})
    deadline = time.monotonic() + 5
    found: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline and len(found) < 2:
        # Lines are written in batches, so they may take up to the handler's interval to appear;
        # every line must parse as JSON, or logs() raises.
        fronts = [r for r in front.logs()[seen_before:] if r.get("caller_trace_id") == CALLER_TRACE]
        if fronts:
            found["front"] = fronts[0]
            for record in color.logs():
                if record.get("msg") == "request" and record.get("trace_id") == fronts[0]["trace_id"]:
                    found["colorapp"] = record
        time.sleep(0.05)
    assert found["front"]["trace_id"] != CALLER_TRACE
    # The trace id travels with the request and shows in both services' logs.
    assert set(found) == {"colorapp", "front"}
    for name, record in found.items():
        assert record["service"] == name
        assert record["level"] == "info"
        assert record["method"] == "GET"
        assert record["status"] == 200
        assert isinstance(record["duration_ms"], float | int)
        assert record["path"] == "/color"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(record["ts"]))


def test_colorapp_without_color_fails_fast(launcher: Launcher) -> None:
    proc, stdout, stderr = launcher.spawn("workloads.runtime.colorapp", {"COLOR": "  "})
    assert proc.wait(timeout=10) == 2
    records = [json.loads(line) for line in stdout.read_text().splitlines()]
    assert records[-1]["level"] == "error"
    assert "COLOR: Value error, must be set" in records[-1]["msg"]
    assert "COLOR: Value error, must be set" in stderr.read_text()


@pytest.mark.parametrize(
    ("module", "env", "message"),
    [
        (
            "workloads.runtime.front",
            {"COLOR_HOST": "http://colorapp:8080"},
            "COLOR_HOST: Value error, must be host:port",
        ),
        (
            "workloads.runtime.front",
            {"UPSTREAM_TIMEOUT_MS": "soon"},
            "UPSTREAM_TIMEOUT_MS: Input should be a valid integer",
        ),
        ("workloads.runtime.front", {"UPSTREAM_AUTH": "sigv4"}, "UPSTREAM_AUTH=sigv4 needs AWS_REGION"),
        (
            "workloads.runtime.colorapp",
            {"COLOR": "red", "PORT": "eighty"},
            "PORT: Input should be a valid integer",
        ),
        (
            "workloads.runtime.colorapp",
            {"COLOR": "red", "ACCESS_LOG": "maybe"},
            "ACCESS_LOG: Input should be a valid boolean",
        ),
        ("workloads.runtime.colorapp", {"COLOR": "\u9752"}, "COLOR: Value error, expected 1-63 letters"),
        (
            "workloads.runtime.colorapp",
            {"COLOR": "red", "WORKERS": "0"},
            "WORKERS: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_settings_fail_fast(launcher: Launcher, module: str, env: dict[str, str], message: str) -> None:
    proc, _, stderr = launcher.spawn(module, env)
    assert proc.wait(timeout=10) == 2
    assert message in stderr.read_text()


def test_the_image_entry_point_runs_the_app_named_by_app(launcher: Launcher) -> None:
    color = launcher.start("workloads.runtime", {"APP": "colorapp", "COLOR": "teal"})
    assert get(color.url("/color")).text == "teal"
    proc, _, stderr = launcher.spawn("workloads.runtime", {"APP": "nope"})
    assert proc.wait(timeout=10) == 2
    assert "APP must be one of colorapp, front" in stderr.read_text()


# --- front -----------------------------------------------------------------------------------------


def test_front_passes_colorapp_answer_through(pair: tuple[App, App]) -> None:
    _, front = pair
    plain = get(front.url("/color"))
    assert plain.status_code == 200
    assert plain.text == "blue"
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.headers["x-crossmesh-version"] == "blue"
    assert plain.headers["x-crossmesh-attempts"] == "1"
    as_json = get(front.url("/color"), JSON_ACCEPT)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {"color": "blue"}


def test_front_answers_502_quickly_when_colorapp_is_down(launcher: Launcher) -> None:
    host = f"127.0.0.1:{unused_port()}"
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": host, **NO_RETRIES})
    started = time.monotonic()
    response = get(front.url("/color"))
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    body = response.json()
    assert body["upstream"] == host
    assert "cannot connect" in body["error"]
    assert body["attempts"] == 1
    assert elapsed < 2.0


def test_front_answers_502_when_upstream_is_slower_than_the_per_try_timeout(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    slow = fake_upstream(delay=5.0)
    front = launcher.start(
        "workloads.runtime.front",
        {"COLOR_HOST": slow.host, "UPSTREAM_PER_TRY_TIMEOUT_MS": "500", **NO_RETRIES},
    )
    started = time.monotonic()
    response = get(front.url("/color"))
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert response.json() == {
        "error": "no answer within the per-try timeout of 500 ms",
        "upstream": slow.host,
        "attempts": 1,
    }
    assert slow.got_request.is_set()
    assert 0.4 < elapsed < 1.5


def test_front_answers_502_on_upstream_error_status(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    failing = fake_upstream(status=503, body=b"unavailable", headers={"x-crossmesh-version": "red"})
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": failing.host, **NO_RETRIES})
    response = get(front.url("/color"))
    assert response.status_code == 502
    assert response.json() == {
        "error": "upstream answered 503",
        "upstream": failing.host,
        "attempts": 1,
        "status": 503,
    }
    # The failing version stays visible.
    assert response.headers["x-crossmesh-version"] == "red"


def test_front_forwards_accept_and_trace_context_and_returns_upstream_content_type(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    upstream = fake_upstream(body=b'{"color":"green"}', content_type="application/vnd.demo+json")
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": upstream.host})
    trace_id = "5759e988bd862e3fe1be46a994272793"
    response = get(
        front.url("/color"),
        {"Accept": "application/json", "traceparent": f"00-{trace_id}-53995c3f42cd8ad8-01"},
    )
    assert response.status_code == 200
    assert response.content == b'{"color":"green"}'
    assert response.headers["content-type"] == "application/vnd.demo+json"
    seen = upstream.requests[-1]
    assert seen["path"] == "/color"
    assert seen["accept"] == "application/json"
    # front relays the body undecoded, so it asks for no compression it would not undo.
    assert "accept-encoding" not in seen
    # front's own trace goes on, in W3C and X-Ray form, under its span for the call: the caller's
    # context, from the internet, is linked to, not continued (test_tracing.py has the link).
    version, forwarded_trace, parent, flags = seen["traceparent"].split("-")
    assert (version, flags) == ("00", "01")
    assert re.fullmatch(r"[0-9a-f]{32}", forwarded_trace)
    assert forwarded_trace != trace_id
    assert parent != "53995c3f42cd8ad8"
    assert seen["x-amzn-trace-id"] == (
        f"Root=1-{forwarded_trace[:8]}-{forwarded_trace[8:]};Parent={parent};Sampled=1"
    )


# --- shutdown --------------------------------------------------------------------------------------


def test_sigterm_lets_the_request_in_flight_complete(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    slow = fake_upstream(delay=1.5, body=b"slow-but-complete")
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": slow.host, "UPSTREAM_PER_TRY_TIMEOUT_MS": "5000"}
    )
    result: dict[str, object] = {}

    def call() -> None:
        try:
            response = get(front.url("/color"))
            result["status"], result["body"] = response.status_code, response.content
        except Exception as exc:  # reported by the assertions below
            result["error"] = exc

    caller = threading.Thread(target=call)
    caller.start()
    assert slow.got_request.wait(timeout=10), "the request never reached the upstream"
    signalled = time.monotonic()
    front.terminate()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert result == {"status": 200, "body": b"slow-but-complete"}
    assert front.wait(timeout=10) == 0
    # The request really was in flight across the signal: the upstream still had ~1.5 s to go.
    assert time.monotonic() - signalled > 1.0
    # And the listener is gone once drained.
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", front.port), timeout=1),
    ):
        pass


def test_drain_fails_readiness_and_closes_keep_alive_connections(launcher: Launcher) -> None:
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
    with httpx.Client(timeout=TIMEOUT) as client:
        assert client.get(color.url("/healthz")).status_code == 200
        before = client.get(color.url("/color"))
        assert "connection" not in before.headers
        # Only the pod itself may drain it: the preStop hook runs inside the pod, on loopback, and
        # presents the key only the app's user can read. Loopback alone is refused: a proxy in the
        # pod (Envoy on App Mesh) hands every outside request over from 127.0.0.1.
        refused = [
            client.post(color.url("/drain")),
            client.post(color.url("/drain"), headers={"x-crossmesh-drain-key": "0" * 32}),
        ]
        assert [r.status_code for r in refused] == [403, 403]
        assert client.get(color.url("/healthz")).status_code == 200
        drained = client.post(color.url("/drain"), headers=color.drain_headers())
        assert (drained.status_code, drained.json()) == (200, {"status": "draining"})
        health = client.get(color.url("/healthz"))
        assert (health.status_code, health.json()) == (503, {"status": "draining"})
        served = client.get(color.url("/color"))
    # Still served, and told to reconnect (to a pod that is not going away).
    assert (served.status_code, served.text) == (200, "blue")
    assert served.headers["connection"] == "close"
    color.terminate()
    assert color.wait(timeout=10) == 0


def test_drain_reaches_every_serving_process(launcher: Launcher) -> None:
    """WORKERS=2: POST /drain lands in one process; readiness and Connection: close follow in both."""
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue", "WORKERS": "2"})
    processes = serving_processes(color.proc.pid)
    assert len(processes) == 2
    (listening,) = [r for r in color.logs() if r.get("msg") == "listening"]
    assert listening["workers"] == 2
    state_file = Path(listening["drain_state"])
    assert state_file.read_bytes() == b"\0"
    clients: list[httpx.Client] = []
    owners: dict[int, int] = {}
    try:
        # One kept-alive connection per client, until both processes hold some, so what follows is
        # asked of both. Which process accepts a connection is the kernel's choice: on a busy machine
        # a dozen in a row can all go to one, so up to 64 are opened.
        while len(clients) < 64 and set(owners.values()) != set(processes):
            client = httpx.Client(timeout=TIMEOUT)
            clients.append(client)
            assert client.get(color.url("/healthz")).status_code == 200
            owners = connection_owners(processes, color.port)
        assert len(owners) == len(clients)
        assert set(owners.values()) == set(processes)
        assert (
            httpx.post(color.url("/drain"), headers=color.drain_headers(), timeout=TIMEOUT).status_code == 200
        )
        for client in clients:
            health = client.get(color.url("/healthz"))
            assert (health.status_code, health.json()) == (503, {"status": "draining"})
            assert health.headers["connection"] == "close"
    finally:
        for client in clients:
            client.close()
    color.terminate()
    assert color.wait(timeout=10) == 0
    # The supervisor removed the state and key files it made for them.
    assert not state_file.exists()
    assert not (drain.SHARED_DIRECTORY / drain.KEY_FILE.format(port=color.port)).exists()


def test_drain_under_keep_alive_load_loses_no_request(launcher: Launcher) -> None:
    """preStop (POST /drain, then the wait for endpoint removal) and SIGTERM while clients hammer."""
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
    stop = threading.Event()
    outcomes: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client_loop() -> None:
        # Keep-alive clients, as a load balancer's pool is; each reconnects when told to close.
        with httpx.Client(timeout=TIMEOUT) as client:
            while not stop.is_set():
                try:
                    response = client.get(color.url("/color"))
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(exc)
                    return
                with lock:
                    outcomes.append((response.status_code, response.headers.get("connection", "")))

    clients = [threading.Thread(target=client_loop) for _ in range(8)]
    for thread in clients:
        thread.start()
    time.sleep(0.5)
    assert httpx.post(color.url("/drain"), headers=color.drain_headers(), timeout=TIMEOUT).status_code == 200
    # Endpoints are removed during the preStop wait: clients stop sending, then SIGTERM comes.
    time.sleep(0.5)
    stop.set()
    for thread in clients:
        thread.join(timeout=10)
    color.terminate()
    assert color.wait(timeout=10) == 0
    assert not errors, errors[:3]
    assert len(outcomes) > 50
    assert {status for status, _ in outcomes} == {200}
    assert any(header == "close" for _, header in outcomes)


# --- read-only root filesystem ---------------------------------------------------------------------


@pytest.mark.skipif(not can_make_read_only_root(), reason="needs root and unshare to remount / read-only")
def test_both_apps_run_on_a_read_only_root_filesystem(launcher: Launcher, tmp_path: Path) -> None:
    # As Kubernetes' readOnlyRootFilesystem does: the whole tree is read-only, bytecode caches too.
    read_only = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -o remount,bind,ro / && exec "$@"',
        "-",
    ]
    env = {"PYTHONDONTWRITEBYTECODE": ""}
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue", **env}, prefix=read_only)
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{color.port}", **env}, prefix=read_only
    )
    assert get(front.url("/color"), JSON_ACCEPT).json() == {"color": "blue"}
    for app in (front, color):
        app.terminate()
        assert app.wait(timeout=10) == 0
        assert not [r for r in app.logs() if r["level"] in {"warning", "error"}]


def test_the_pods_pre_stop_command_drains_the_real_app(launcher: Launcher) -> None:
    import subprocess
    import sys

    from workloads.deploy.manifests import pre_stop_command

    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
    command = pre_stop_command(color.port, wait_seconds=0)
    assert command[0] == "python"
    done = subprocess.run([sys.executable, *command[1:]], capture_output=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    assert b"drain call failed" not in done.stdout
    assert b"no drain key" not in done.stdout
    assert get(color.url("/healthz")).status_code == 503


def test_the_pre_stop_command_drains_an_app_listening_on_every_ipv6_and_ipv4_address(
    launcher: Launcher,
) -> None:
    # HOST=:: (an IPv6 cluster): the hook's call to 127.0.0.1 arrives as ::ffff:127.0.0.1.
    import subprocess
    import sys

    from workloads.deploy.manifests import pre_stop_command

    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue", "HOST": "::"})
    done = subprocess.run(
        [sys.executable, *pre_stop_command(color.port, wait_seconds=0)[1:]],
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert b"drain call failed" not in done.stdout, done.stdout
    assert get(color.url("/healthz")).status_code == 503


@pytest.mark.parametrize("workers", ["1", "2"])
def test_teardown_leaves_no_drain_files_behind(tmp_path: Path, workers: str) -> None:
    # The supervisor removes its state and key files as it stops (workloads/README.md); a teardown that
    # only killed the apps left both in /dev/shm for every app a test started.
    launcher = Launcher(tmp_path)
    try:
        app = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue", "WORKERS": workers})
        listening = next(line for line in app.logs() if line.get("msg") == "listening")
        made = [Path(listening["drain_state"]), drain.SHARED_DIRECTORY / drain.KEY_FILE.format(port=app.port)]
        assert all(path.exists() for path in made)
    finally:
        launcher.stop_all()
    assert [path for path in made if path.exists()] == []
