"""Hostile clients against the real server on 127.0.0.1: every one gets a bounded answer.

Each test talks raw HTTP/1.1 over a socket so nothing in a client library smooths the edges, and each
is bounded by socket timeouts.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable

import pytest

from tests.workloads.servers import App, Launcher, Upstream
from workloads.runtime.common import logs
from workloads.runtime.common.settings import MAX_HEADER_BYTES
from workloads.runtime.front.app import MAX_FORWARDED_ACCEPT_BYTES

pytestmark = pytest.mark.network


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send ``raw``, read until the server closes or the response is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and close before a huge head is fully sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            length = [line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
            if sep and length and len(body) >= int(length[0].split(b":")[1]):
                break
        return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def request_with_headers_of(total: int, *given: tuple[bytes, bytes]) -> bytes:
    """A GET with the ``given`` headers, whose header names plus values add up to exactly ``total`` bytes."""
    headers = [(b"host", b"127.0.0.1"), *given]
    used = sum(len(k) + len(v) for k, v in headers)
    remaining = total - used
    n = 0
    while remaining > 0:
        name = b"x-filler-%d" % n
        value_len = min(8000, remaining - len(name))
        assert value_len > 0
        headers.append((name, b"a" * value_len))
        remaining -= len(name) + value_len
        n += 1
    assert sum(len(k) + len(v) for k, v in headers) == total
    lines = b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    return b"GET /color HTTP/1.1\r\n" + lines + b"connection: close\r\n\r\n"


@pytest.fixture(scope="module")
def colorapp(tmp_path_factory: pytest.TempPathFactory) -> App:
    launcher = Launcher(tmp_path_factory.mktemp("limits"))
    try:
        yield launcher.start(  # type: ignore[misc] # a generator fixture
            "workloads.runtime.colorapp",
            {
                "COLOR": "blue",
                "HEADER_READ_TIMEOUT_MS": "1000",
                "MAX_CONNECTIONS": "4",
                "ACCESS_LOG": "false",
            },
        )
    finally:
        launcher.stop_all()


def test_headers_at_exactly_the_limit_are_served(colorapp: App) -> None:
    # "connection: close" (15 bytes) is part of the request too.
    response = exchange(
        colorapp.port, request_with_headers_of(MAX_HEADER_BYTES - len(b"connection") - len(b"close"))
    )
    assert status_of(response) == 200
    assert response.endswith(b"blue")


def test_headers_one_byte_over_the_limit_get_431(colorapp: App) -> None:
    response = exchange(
        colorapp.port, request_with_headers_of(MAX_HEADER_BYTES + 1 - len(b"connection") - len(b"close"))
    )
    assert status_of(response) == 431


def test_a_huge_accept_header_is_refused_unread_and_the_server_stays_responsive(colorapp: App) -> None:
    # 7.5 MB: the server stops at its buffer and answers 431 without handing anything to the app.
    raw = b"GET /color HTTP/1.1\r\nhost: x\r\naccept: " + b"text/plain;q=0.5, " * 420_000 + b"\r\n\r\n"
    assert len(raw) > 7_500_000
    response = exchange(colorapp.port, raw)
    assert status_of(response) == 431
    assert (
        status_of(exchange(colorapp.port, b"GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
        == 200
    )


def test_a_client_that_never_finishes_its_headers_is_closed(colorapp: App) -> None:
    with socket.create_connection(("127.0.0.1", colorapp.port), timeout=10) as sock:
        sock.sendall(b"GET /color HTTP/1.1\r\nhost: x\r\n")
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed, not answered
        assert time.monotonic() - started < 5


def test_an_idle_keep_alive_connection_is_closed(colorapp: App) -> None:
    with socket.create_connection(("127.0.0.1", colorapp.port), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(1000).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - started < 5


def test_a_body_on_a_route_that_takes_none_is_not_read(colorapp: App) -> None:
    # Announces 100 MB and sends a few bytes: the answer comes at once and the connection closes,
    # so the server never reads (or waits for) the rest.
    with socket.create_connection(("127.0.0.1", colorapp.port), timeout=5) as sock:
        sock.sendall(b"GET /color HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\n" + b"x" * 1000)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert status_of(data) == 200
    assert b"connection: close" in data.lower()
    assert data.endswith(b"blue")


def test_connections_per_process_are_capped(colorapp: App) -> None:
    # MAX_CONNECTIONS=4: four idle connections hold every slot; a fifth is not served until one goes.
    held = [socket.create_connection(("127.0.0.1", colorapp.port), timeout=5) for _ in range(4)]
    try:
        for sock in held:
            sock.sendall(b"GET /ping HTTP/1.1\r\nhost: x\r\n\r\n")
            assert sock.recv(1000).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", colorapp.port), timeout=0.5) as fifth:
            fifth.sendall(b"GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            with pytest.raises(TimeoutError):
                fifth.recv(1000)
            held.pop().close()
            fifth.settimeout(5)
            assert fifth.recv(1000).startswith(b"HTTP/1.1 200")
    finally:
        for sock in held:
            sock.close()


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""What an HTTP/2 client sends first over clear text (RFC 9113, 3.4), then its SETTINGS frame."""
EMPTY_SETTINGS_FRAME = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def test_http2_in_clear_text_is_not_spoken_so_its_streams_cannot_pass_the_http1_limits(colorapp: App) -> None:
    # granian answers this preface with its own SETTINGS by default and then holds the connection
    # with none of the HTTP/1 timers; the public load balancer passes TCP through, so anyone could.
    with socket.create_connection(("127.0.0.1", colorapp.port), timeout=5) as sock:
        sock.sendall(HTTP2_PREFACE + EMPTY_SETTINGS_FRAME)
        started = time.monotonic()
        data = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(1000):
                data += chunk
        assert time.monotonic() - started < 4, f"still open; it sent {data[:40]!r}"
    # Closed with no HTTP/2 frame (a SETTINGS frame would start with its 3-byte length, then type 4).
    assert data == b"" or data.startswith(b"HTTP/1.1 4"), data[:40]


def test_an_upgrade_to_h2c_is_answered_over_http1(colorapp: App) -> None:
    response = exchange(
        colorapp.port,
        b"GET /color HTTP/1.1\r\nhost: x\r\nconnection: Upgrade, HTTP2-Settings, close\r\n"
        b"upgrade: h2c\r\nhttp2-settings: AAMAAABkAAQAAP__\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 200")
    assert response.endswith(b"blue")


def test_front_caps_the_upstream_answer_at_64_kib(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    exactly = fake_upstream(body=b"a" * 65536)
    over_declared = fake_upstream(body=b"a" * 65537)
    over_chunked = fake_upstream(body=b"a" * (300 * 1024), chunked=True)
    env = {"UPSTREAM_MAX_RETRIES": "0"}
    for upstream, expected in ((exactly, 200), (over_declared, 502), (over_chunked, 502)):
        front = launcher.start("workloads.runtime.front", {"COLOR_HOST": upstream.host, **env})
        response = exchange(front.port, b"GET /color HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        assert status_of(response) == expected, upstream
        if expected == 502:
            assert b"upstream answer larger than 65536 bytes" in response


SIGNING = {
    "UPSTREAM_AUTH": "sigv4",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    # As long as a session token from STS usually is: front's signing headers at their real size.
    "AWS_SESSION_TOKEN": "T" * 900,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _accept_of(length: int) -> bytes:
    ranges = b"application/json;q=0.9, text/plain;q=0.8"
    return ranges + b", x/y" * ((length - len(ranges)) // 5) + b"z" * ((length - len(ranges)) % 5)


def test_no_head_front_takes_in_makes_colorapp_refuse_fronts_call(launcher: Launcher) -> None:
    # front adds its SigV4 and trace headers to the Accept it passes on. A head at exactly front's
    # 60 KiB limit, nearly all of it Accept, made colorapp answer 431 and front 502 before front
    # bounded Accept; now front refuses it itself. With the longest Accept front passes on, the same
    # head gets colorapp's answer.
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{color.port}", **SIGNING})
    at_limit = MAX_HEADER_BYTES - len(b"connection") - len(b"close")
    filling = exchange(front.port, request_with_headers_of(at_limit, (b"accept", _accept_of(at_limit - 200))))
    assert status_of(filling) == 431, filling[-300:]
    assert filling.partition(b"\r\n\r\n")[2] == b'{"error":"Accept header longer than 4096 bytes"}'
    longest = _accept_of(MAX_FORWARDED_ACCEPT_BYTES)
    assert len(longest) == MAX_FORWARDED_ACCEPT_BYTES
    response = exchange(front.port, request_with_headers_of(at_limit, (b"accept", longest)))
    assert status_of(response) == 200, response[-300:]
    assert response.endswith(b'{"color": "blue"}')


def test_an_accept_front_would_not_pass_on_gets_431_and_is_never_sent(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    upstream = fake_upstream()
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": upstream.host})
    longest = _accept_of(MAX_FORWARDED_ACCEPT_BYTES)

    def get(*accept: bytes) -> bytes:
        lines = b"".join(b"accept: %s\r\n" % value for value in accept)
        return exchange(front.port, b"GET /color HTTP/1.1\r\nhost: x\r\n%sconnection: close\r\n\r\n" % lines)

    assert status_of(get(longest)) == 200
    assert upstream.requests[-1]["accept"] == longest.decode()
    # Given on two lines, Accept is one list: passed on joined, and bounded as a whole.
    assert status_of(get(b"text/plain", b"application/json")) == 200
    assert upstream.requests[-1]["accept"] == "text/plain, application/json"
    assert len(upstream.requests) == 2
    for refused in (get(longest + b"z"), get(b"text/plain", longest)):
        assert status_of(refused) == 431
        assert refused.partition(b"\r\n\r\n")[2] == b'{"error":"Accept header longer than 4096 bytes"}'
    assert len(upstream.requests) == 2


def test_an_exhausted_upstream_pool_waits_within_the_deadline_and_says_so(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    # A pool of one connection, an upstream that takes 0.6 s: the second call waits for the first's
    # connection, then runs out of its 800 ms overall deadline, and the 502 says where the time went.
    slow = fake_upstream(delay=0.6)
    front = launcher.start(
        "workloads.runtime.front",
        {
            "COLOR_HOST": slow.host,
            "UPSTREAM_MAX_CONNECTIONS": "1",
            "UPSTREAM_TIMEOUT_MS": "800",
            "UPSTREAM_PER_TRY_TIMEOUT_MS": "5000",
            "UPSTREAM_MAX_RETRIES": "0",
        },
    )
    results: dict[str, bytes] = {}

    def call(name: str) -> None:
        results[name] = exchange(front.port, b"GET /color HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")

    first = threading.Thread(target=call, args=("first",))
    first.start()
    assert slow.got_request.wait(5)
    started = time.monotonic()
    call("second")
    waited = time.monotonic() - started
    first.join(10)
    assert status_of(results["first"]) == 200
    assert status_of(results["second"]) == 502
    body = results["second"].partition(b"\r\n\r\n")[2].decode()
    assert re.search(
        r"timed out after 800 ms, \d+ ms of it waiting for a free upstream connection \(all 1 in use\)", body
    )
    # Bounded by the overall deadline, not by the pool.
    assert waited < 1.5


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (b"host: a\r\nhost: b\r\n", 400),  # two
        (b"host: [\r\n", 400),  # not host[:port]
        (b"host: a b\r\n", 400),
        (b"host: example.com:8080\r\n", 200),
        (b"host: [::1]:8080\r\n", 200),
        # granian hands the app an empty Host when none was sent, so the two look alike; both are
        # served: a health checker that leaves Host out must not see the app as down.
        (b"host: \r\n", 200),
        (b"", 200),
    ],
)
def test_an_http11_request_needs_exactly_one_valid_host(colorapp: App, hosts: bytes, expected: int) -> None:
    # RFC 9112, section 3.2: "A server MUST respond with a 400 (Bad Request) status code to [...] any
    # request message that contains more than one Host header field line or a Host header field with
    # an invalid field value."
    response = exchange(colorapp.port, b"GET /ping HTTP/1.1\r\n" + hosts + b"connection: close\r\n\r\n")
    assert status_of(response) == expected, response


def test_an_http10_request_without_host_is_served(colorapp: App) -> None:
    assert status_of(exchange(colorapp.port, b"GET /ping HTTP/1.0\r\n\r\n")) == 200


def test_the_negotiated_answers_say_they_vary_by_accept(launcher: Launcher) -> None:
    # RFC 9110, section 12.5.5: otherwise a cache between a client and front could give the JSON
    # answer to a client that asked for text.
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{color.port}"})
    for port in (color.port, front.port):
        for accept in (b"", b"accept: application/json\r\n"):
            response = exchange(
                port, b"GET /color HTTP/1.1\r\nhost: x\r\n%sconnection: close\r\n\r\n" % accept
            )
            assert status_of(response) == 200
            head = response.partition(b"\r\n\r\n")[0].lower()
            assert b"\r\nvary: accept\r\n" in head, head


def test_a_clients_long_method_path_and_trace_state_cannot_stretch_or_fill_the_log(
    launcher: Launcher,
) -> None:
    # Lines over PIPE_BUF are not written atomically: two serving processes sharing stdout mixed a
    # 60 KB access line with another, leaving lines that are not JSON. And OpenTelemetry warned about a
    # malformed tracestate with the client's own text, once per request.
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
    path = "/" + "a" * 60_000
    response = exchange(color.port, f"GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
    assert status_of(response) == 404
    body = response.partition(b"\r\n\r\n")[2]
    assert len(body) < 400
    assert b"(60001 characters)" in body
    method = "M" * 10_000
    assert (
        status_of(
            exchange(color.port, f"{method} /color HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
        )
        == 405
    )
    junk = "SECURITY ALERT: user admin logged in " + "A" * 8000
    traced = (
        "GET /ping HTTP/1.1\r\nhost: x\r\n"
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
        f"tracestate: {junk}\r\nconnection: close\r\n\r\n"
    )
    assert status_of(exchange(color.port, traced.encode())) == 200
    color.terminate()
    assert color.wait(timeout=10) == 0
    raw = color.stdout.read_bytes().splitlines()
    assert all(len(line) + 1 <= logs.PIPE_BUF for line in raw), max(len(line) for line in raw)
    records = color.logs()
    access = [r for r in records if r.get("msg") == "request"]
    assert [r["status"] for r in access] == [404, 405, 200]
    assert access[0]["path"].endswith("... (60001 characters)")
    assert access[1]["method"].endswith("... (10000 characters)")
    assert not [r for r in records if r["level"] == "warning"], records
    assert "SECURITY ALERT" not in color.stdout.read_text()


def test_the_access_line_keeps_the_address_the_load_balancer_forwards(launcher: Launcher) -> None:
    # front's load balancer proxies HTTP, so the connection's peer is the load balancer; the client it
    # saw is the last address of X-Forwarded-For. A client's own long header is cut like any client text.
    color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue"})
    for forwarded in (b"203.0.113.7", b"198.51.100.1, 203.0.113.7", b"9" * 5000):
        head = (
            b"GET /ping HTTP/1.1\r\nhost: x\r\nx-forwarded-for: %s\r\nconnection: close\r\n\r\n" % forwarded
        )
        assert status_of(exchange(color.port, head)) == 200
    assert (
        status_of(exchange(color.port, b"GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")) == 200
    )
    color.terminate()
    assert color.wait(timeout=10) == 0
    access = [r for r in color.logs() if r.get("msg") == "request"]
    assert [r.get("forwarded_for") for r in access] == [
        "203.0.113.7",
        "198.51.100.1, 203.0.113.7",
        "9" * 256 + "... (5000 characters)",
        None,
    ]
    assert {r["client"] for r in access} == {"127.0.0.1"}
