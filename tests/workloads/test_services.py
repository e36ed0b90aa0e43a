"""The two services over real sockets on 127.0.0.1."""

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

from tests.workloads.servers import App, Launcher, Upstream, can_make_read_only_root, unused_port

pytestmark = pytest.mark.network

JSON_ACCEPT = {"Accept": "application/json"}
TIMEOUT = httpx.Timeout(10.0)
TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
SEGMENT_ID = re.compile(r"^[0-9a-f]{16}$")


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


def test_access_logs_are_one_json_object_per_line(pair: tuple[App, App]) -> None:
    color, front = pair
    assert get(
        front.url("/color?probe=access-log"), {"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"}
    )
    deadline = time.monotonic() + 5
    found: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline and len(found) < 2:
        for name, app in (("colorapp", color), ("front", front)):
            for record in app.logs():  # every line must parse as JSON, or this raises
                if record.get("msg") == "request" and record.get("path") == "/color":
                    found[name] = record
        time.sleep(0.05)
    assert set(found) == {"colorapp", "front"}
    for name, record in found.items():
        assert record["service"] == name
        assert record["level"] == "info"
        assert record["method"] == "GET"
        assert record["status"] == 200
        assert isinstance(record["duration_ms"], float | int)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(record["ts"]))
    # The trace id travels with the request and shows in both services' logs.
    assert (
        found["front"]["trace_id"] == found["colorapp"]["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    )


def test_colorapp_without_color_fails_fast(launcher: Launcher) -> None:
    proc, stdout, stderr = launcher.spawn("workloads.runtime.colorapp", {"COLOR": "  "})
    assert proc.wait(timeout=10) == 2
    records = [json.loads(line) for line in stdout.read_text().splitlines()]
    assert records[-1]["level"] == "error"
    assert "COLOR must be set" in records[-1]["msg"]
    assert "COLOR must be set" in stderr.read_text()


@pytest.mark.parametrize(
    ("module", "env", "message"),
    [
        ("workloads.runtime.front", {"COLOR_HOST": "http://colorapp:8080"}, "COLOR_HOST must be host:port"),
        (
            "workloads.runtime.front",
            {"UPSTREAM_READ_TIMEOUT_SECONDS": "soon"},
            "UPSTREAM_READ_TIMEOUT_SECONDS",
        ),
        ("workloads.runtime.colorapp", {"COLOR": "red", "PORT": "eighty"}, "PORT must be a whole number"),
        (
            "workloads.runtime.colorapp",
            {"COLOR": "red", "XRAY_ENABLED": "maybe"},
            "XRAY_ENABLED must be true or false",
        ),
    ],
)
def test_bad_settings_fail_fast(launcher: Launcher, module: str, env: dict[str, str], message: str) -> None:
    proc, _, stderr = launcher.spawn(module, env)
    assert proc.wait(timeout=10) == 2
    assert message in stderr.read_text()


# --- front -----------------------------------------------------------------------------------------


def test_front_passes_colorapp_answer_through(pair: tuple[App, App]) -> None:
    _, front = pair
    plain = get(front.url("/color"))
    assert plain.status_code == 200
    assert plain.text == "blue"
    assert plain.headers["content-type"].startswith("text/plain")
    as_json = get(front.url("/color"), JSON_ACCEPT)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {"color": "blue"}


def test_front_answers_502_quickly_when_colorapp_is_down(launcher: Launcher) -> None:
    host = f"127.0.0.1:{unused_port()}"
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": host})
    started = time.monotonic()
    response = get(front.url("/color"))
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    body = response.json()
    assert body["upstream"] == host
    assert "cannot connect" in body["error"]
    assert elapsed < 2.0


def test_front_answers_502_when_upstream_is_slower_than_read_timeout(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    slow = fake_upstream(delay=5.0)
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": slow.host, "UPSTREAM_READ_TIMEOUT_SECONDS": "0.5"}
    )
    started = time.monotonic()
    response = get(front.url("/color"))
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert response.json() == {"error": "read timed out after 0.5s", "upstream": slow.host}
    assert slow.got_request.is_set()
    assert 0.4 < elapsed < 1.5


def test_front_answers_502_on_upstream_error_status(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    failing = fake_upstream(status=503, body=b"unavailable")
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": failing.host})
    response = get(front.url("/color"))
    assert response.status_code == 502
    assert response.json() == {"error": "upstream answered 503", "upstream": failing.host, "status": 503}


def test_front_forwards_accept_and_trace_header_and_returns_upstream_content_type(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    upstream = fake_upstream(body=b'{"color":"green"}', content_type="application/vnd.demo+json")
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": upstream.host})
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    response = get(front.url("/color"), {"Accept": "application/json", "X-Amzn-Trace-Id": header})
    assert response.status_code == 200
    assert response.content == b'{"color":"green"}'
    assert response.headers["content-type"] == "application/vnd.demo+json"
    seen = upstream.requests[-1]
    assert seen["path"] == "/color"
    assert seen["accept"] == "application/json"
    # Without X-Ray recording, the header goes on exactly as it came.
    assert seen["x-amzn-trace-id"] == header


# --- shutdown --------------------------------------------------------------------------------------


def test_sigterm_lets_the_request_in_flight_complete(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    slow = fake_upstream(delay=1.5, body=b"slow-but-complete")
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": slow.host, "UPSTREAM_READ_TIMEOUT_SECONDS": "5"}
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


def test_shutdown_delay_fails_healthz_but_keeps_serving(launcher: Launcher) -> None:
    delay = 2.0
    color = launcher.start(
        "workloads.runtime.colorapp", {"COLOR": "blue", "SHUTDOWN_DELAY_SECONDS": str(delay)}
    )
    assert get(color.url("/healthz")).status_code == 200
    signalled = time.monotonic()
    color.terminate()

    health = get(color.url("/healthz"))
    deadline = time.monotonic() + 1.0
    while health.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.02)
        health = get(color.url("/healthz"))
    assert health.status_code == 503
    assert health.json() == {"status": "draining"}
    assert time.monotonic() - signalled < 1.0

    # New connections are still accepted and served inside the delay, and told to go elsewhere next time.
    with httpx.Client(timeout=TIMEOUT) as client:
        served = client.get(color.url("/color"))
    assert time.monotonic() - signalled < delay
    assert (served.status_code, served.text) == (200, "blue")
    assert served.headers["connection"] == "close"

    assert color.wait(timeout=10) == 0
    assert time.monotonic() - signalled >= delay - 0.1


def test_two_workers_serve_and_drain(launcher: Launcher) -> None:
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "teal", "WEB_CONCURRENCY": "2"})
    for _ in range(4):
        assert get(color.url("/color")).text == "teal"
    color.terminate()
    assert color.wait(timeout=10) == 0
    listening = [r for r in color.logs() if r.get("msg") == "listening"]
    parent = [r for r in listening if r["pid"] == color.proc.pid]
    assert len(parent) == 1
    assert parent[0]["workers"] == 2
    # Each worker serves the socket it inherited from the parent.
    workers = {r["pid"] for r in listening if r["pid"] != color.proc.pid and r["port"] == color.port}
    assert len(workers) == 2
    stopped = [r for r in color.logs() if r.get("msg") == "stopped"]
    assert stopped[-1]["exit_status"] == 0


def test_workers_do_not_outlive_a_killed_supervisor(launcher: Launcher) -> None:
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "teal", "WEB_CONCURRENCY": "2"})
    assert get(color.url("/color")).text == "teal"
    color.proc.kill()
    color.wait(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", color.port), timeout=1).close()
        except ConnectionRefusedError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("workers still serve 5 s after their supervisor was killed")
    assert any(r.get("msg") == "supervisor gone, draining" for r in color.logs())


# --- X-Ray -----------------------------------------------------------------------------------------


def _udp_sink() -> socket.socket:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(5)
    return sink


def _segments(sink: socket.socket, count: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for _ in range(count):
        datagram, _ = sink.recvfrom(65536)
        header, newline, document = datagram.partition(b"\n")
        assert newline == b"\n"
        assert json.loads(header) == {"format": "json", "version": 1}
        found.append(json.loads(document))
    return found


def _xray_env(sink: socket.socket) -> dict[str, str]:
    return {"XRAY_ENABLED": "true", "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{sink.getsockname()[1]}"}


def test_colorapp_sends_a_segment_per_request(launcher: Launcher) -> None:
    with _udp_sink() as sink:
        color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue", **_xray_env(sink)})
        root, parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
        response = get(color.url("/color"), {"X-Amzn-Trace-Id": f"Root={root};Parent={parent};Sampled=1"})
        assert response.text == "blue"
        assert response.headers["x-amzn-trace-id"] == f"Root={root};Sampled=1"
        (segment,) = _segments(sink, 1)

        assert segment["name"] == "colorapp"
        assert SEGMENT_ID.match(str(segment["id"]))
        assert segment["trace_id"] == root
        assert segment["parent_id"] == parent
        start, end = segment["start_time"], segment["end_time"]
        assert isinstance(start, float)
        assert isinstance(end, float)
        assert abs(start - time.time()) < 60
        assert start <= end
        assert segment["http"] == {
            "request": {
                "method": "GET",
                "url": f"http://127.0.0.1:{color.port}/color",
                "client_ip": "127.0.0.1",
                "user_agent": response.request.headers["user-agent"],
            },
            "response": {"status": 200, "content_length": 4},
        }

        # Sampled=0 from the caller is obeyed; with no header a new trace starts (the first request
        # of a second is always sampled, and the test waits for a new second to be sure).
        get(color.url("/color"), {"X-Amzn-Trace-Id": f"Root={root};Sampled=0"})
        time.sleep(1.05 - time.time() % 1)
        fresh = get(color.url("/color"))
        (segment,) = _segments(sink, 1)
        assert TRACE_ID.match(str(segment["trace_id"]))
        assert segment["trace_id"] != root
        assert "parent_id" not in segment
        assert fresh.headers["x-amzn-trace-id"] == f"Root={segment['trace_id']};Sampled=1"


def test_front_traces_the_call_and_links_colorapp_to_it(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    upstream = fake_upstream()
    with _udp_sink() as sink:
        front = launcher.start("workloads.runtime.front", {"COLOR_HOST": upstream.host, **_xray_env(sink)})
        root, parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
        response = get(front.url("/color"), {"X-Amzn-Trace-Id": f"Root={root};Parent={parent};Sampled=1"})
        assert response.status_code == 200
        (segment,) = _segments(sink, 1)

    assert segment["name"] == "front"
    assert segment["trace_id"] == root
    assert segment["parent_id"] == parent
    subsegments = segment["subsegments"]
    assert isinstance(subsegments, list)
    assert len(subsegments) == 1
    call = subsegments[0]
    assert call["namespace"] == "remote"
    assert call["http"] == {
        "request": {"method": "GET", "url": f"http://{upstream.host}/color"},
        "response": {"status": 200},
    }
    # colorapp receives the same trace, with the call's subsegment as its parent.
    assert upstream.requests[-1]["x-amzn-trace-id"] == f"Root={root};Parent={call['id']};Sampled=1"


def test_front_segment_records_a_failed_call_as_fault(launcher: Launcher) -> None:
    with _udp_sink() as sink:
        front = launcher.start(
            "workloads.runtime.front",
            {"COLOR_HOST": f"127.0.0.1:{unused_port()}", "XRAY_SAMPLE_RATE": "1", **_xray_env(sink)},
        )
        assert get(front.url("/color")).status_code == 502
        (segment,) = _segments(sink, 1)
    assert segment["fault"] is True
    assert segment["http"]["response"]["status"] == 502  # type: ignore[index]  # JSON document
    (call,) = segment["subsegments"]  # type: ignore[misc]  # JSON document
    assert call["fault"] is True
    assert "cannot connect" in call["cause"]["exceptions"][0]["message"]


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
    with _udp_sink() as sink:
        env = {**_xray_env(sink), "XRAY_SAMPLE_RATE": "1", "PYTHONDONTWRITEBYTECODE": ""}
        color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue", **env}, prefix=read_only)
        front = launcher.start(
            "workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{color.port}", **env}, prefix=read_only
        )
        assert get(front.url("/color"), JSON_ACCEPT).json() == {"color": "blue"}
        assert len(_segments(sink, 2)) == 2
    for app in (front, color):
        app.terminate()
        assert app.wait(timeout=10) == 0
        assert not [r for r in app.logs() if r["level"] in {"warning", "error"}]
