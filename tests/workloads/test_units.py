"""Pure functions and the ASGI core, without sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Any

import pytest

from workloads.runtime.common.config import (
    ConfigError,
    env_bool,
    env_float,
    env_int,
    server_settings,
    split_host_port,
    xray_settings,
)
from workloads.runtime.common.logs import JsonLog
from workloads.runtime.common.web import Request, Response, Service, prefers_json, text
from workloads.runtime.common.xray import Sampler, Trace, Tracer, new_id, new_trace_id, parse_trace_header


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"*/*", False),
        (b"text/plain", False),
        (b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        (b"application/json, text/plain, */*", True),
        (b"text/plain, application/json", False),
        (b"text/*;q=0.5, application/json", True),
        (b"application/json;q=0.5, text/plain;q=0.9", False),
        (b"application/json;q=0", False),
        (b"application/*", True),
        (b"*/*, application/json;q=0.9", False),
        (b"APPLICATION/JSON", True),
        (b"garbage", False),
        (b"application/json;q=bogus", False),
    ],
)
def test_prefers_json(accept: bytes, expected: bool) -> None:
    assert prefers_json(accept) is expected


def test_parse_trace_header() -> None:
    header = parse_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    assert header.root == "1-5759e988-bd862e3fe1be46a994272793"
    assert header.parent == "53995c3f42cd8ad8"
    assert header.sampled is True
    # Spaces and odd case are tolerated; malformed ids are dropped rather than passed on.
    loose = parse_trace_header(" root=1-5759e988-bd862e3fe1be46a994272793 ; parent=XYZ ; Sampled=?")
    assert (loose.root, loose.parent, loose.sampled) == ("1-5759e988-bd862e3fe1be46a994272793", None, None)
    assert parse_trace_header("Root=2-abc;Sampled=0").root is None
    assert parse_trace_header("Root=2-abc;Sampled=0").sampled is False
    assert parse_trace_header(None).root is None


def test_ids_have_the_documented_shape() -> None:
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", new_trace_id(1_700_000_000.5))
    assert new_trace_id(1_700_000_000.5).startswith("1-6553f100-")
    assert re.fullmatch(r"[0-9a-f]{16}", new_id())
    assert new_id() != new_id()


def test_sampler_takes_the_first_request_of_each_second_then_the_rate() -> None:
    never = Sampler(0.0)
    assert never.sample(100.1) is True
    assert never.sample(100.2) is False
    assert never.sample(100.9) is False
    assert never.sample(101.0) is True
    always = Sampler(1.0)
    assert all(always.sample(200.0 + i / 100) for i in range(50))


def test_trace_headers() -> None:
    trace = Trace("1-5759e988-bd862e3fe1be46a994272793", "aaaaaaaaaaaaaaaa", None, sampled=False, start=1.0)
    assert trace.downstream_header("bbbbbbbbbbbbbbbb") == (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=bbbbbbbbbbbbbbbb;Sampled=0"
    )
    assert trace.response_header() == b"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("colorapp.appmesh-demo.pvt.aws.local:8080", ("colorapp.appmesh-demo.pvt.aws.local", 8080)),
        ("colorapp", ("colorapp", 80)),
        ("127.0.0.1:2000", ("127.0.0.1", 2000)),
        ("[::1]:2000", ("::1", 2000)),
    ],
)
def test_split_host_port(value: str, expected: tuple[str, int]) -> None:
    assert split_host_port(value, "X", 80) == expected


@pytest.mark.parametrize(
    "value", ["http://colorapp:8080", "colorapp:8080/color", ":8080", "host:99999", "host:x"]
)
def test_split_host_port_rejects(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^X "):
        split_host_port(value, "X", 80)


def test_env_readers() -> None:
    env = {"N": "7", "F": "0.5", "B": "Yes", "BAD": "maybe", "NAN": "nan", "BIG": "100"}
    assert env_int(env, "N", 1, minimum=0, maximum=10) == 7
    assert env_int(env, "MISSING", 3, minimum=0, maximum=10) == 3
    assert env_float(env, "F", 1.0, minimum=0.0, maximum=1.0) == 0.5
    assert env_bool(env, "B", False) is True
    assert env_bool(env, "MISSING", True) is True
    with pytest.raises(ConfigError, match="BAD must be true or false"):
        env_bool(env, "BAD", False)
    with pytest.raises(ConfigError, match="NAN must be between"):
        env_float(env, "NAN", 1.0, minimum=0.0, maximum=10.0)
    with pytest.raises(ConfigError, match="BIG must be between 0 and 10"):
        env_int(env, "BIG", 1, minimum=0, maximum=10)


def test_server_settings_defaults() -> None:
    settings = server_settings({})
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 8080, 1)
    assert settings.shutdown_delay == 0.0
    assert settings.access_log is True


def test_xray_needs_both_the_switch_and_the_daemon_address() -> None:
    assert xray_settings("front", {"XRAY_ENABLED": "true"}).enabled is False
    assert xray_settings("front", {"XRAY_ENABLED": "true"}).requested is True
    assert xray_settings("front", {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}).enabled is False
    both = xray_settings("front", {"XRAY_ENABLED": "1", "AWS_XRAY_DAEMON_ADDRESS": "xray.aws:2001"})
    assert (both.enabled, both.daemon_host, both.daemon_port, both.service_name) == (
        True,
        "xray.aws",
        2001,
        "front",
    )
    split = xray_settings(
        "front", {"XRAY_ENABLED": "1", "AWS_XRAY_DAEMON_ADDRESS": "tcp:10.0.0.1:2000 udp:10.0.0.2:2001"}
    )
    assert (split.daemon_host, split.daemon_port) == ("10.0.0.2", 2001)
    named = xray_settings("front", {"XRAY_APP_NAME": "web"})
    assert named.service_name == "web"


def _read_lines(fd: int) -> list[dict[str, Any]]:
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 1 << 20)
    except BlockingIOError:
        data = b""
    return [json.loads(line) for line in data.decode().splitlines()]


def test_json_log_writes_one_object_per_line_and_honours_the_level() -> None:
    read_fd, write_fd = os.pipe()
    try:
        log = JsonLog("svc", "warning", fd=write_fd)
        log.log("info", "hidden")
        log.log("warning", 'quote " and\nnewline', path="/x", n=3)
        lines = _read_lines(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert len(lines) == 1
    (line,) = lines
    assert line["level"] == "warning"
    assert line["msg"] == 'quote " and\nnewline'
    assert (line["service"], line["path"], line["n"]) == ("svc", "/x", 3)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])


def test_json_log_batches_lines_within_one_loop_iteration() -> None:
    read_fd, write_fd = os.pipe()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        log = JsonLog("svc", fd=write_fd)
        log.log("info", "one")
        log.log("info", "two")
        before = _read_lines(read_fd)
        await asyncio.sleep(0)
        return before, _read_lines(read_fd)

    try:
        before, after = asyncio.run(scenario())
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert before == []
    assert [line["msg"] for line in after] == ["one", "two"]


async def _call(app: Service, path: str, method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": method, "path": path, "headers": [], "client": ("127.0.0.1", 1)}
    await app(scope, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def _service(log_fd: int, routes: dict[str, Any]) -> Service:
    log = JsonLog("svc", fd=log_fd)
    return Service("svc", routes, log=log, tracer=Tracer(xray_settings("svc", {}), log))


def test_service_turns_a_handler_crash_into_a_logged_500() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    read_fd, write_fd = os.pipe()
    try:
        app = _service(write_fd, {"/broken": broken})
        status, headers, body = asyncio.run(_call(app, "/broken"))
        lines = _read_lines(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert status == 500
    assert json.loads(body) == {"error": "internal error"}
    assert headers[b"content-length"] == str(len(body)).encode()
    errors = [line for line in lines if line["level"] == "error"]
    assert errors[0]["error"] == "RuntimeError('boom')"
    assert "Traceback" in errors[0]["exc"]
    assert [line["status"] for line in lines if line["msg"] == "request"] == [500]


def test_service_draining_fails_healthz_and_closes_connections() -> None:
    async def hello(request: Request) -> Response:
        return text("hi")

    read_fd, write_fd = os.pipe()
    try:
        app = _service(write_fd, {"/hello": hello})
        assert asyncio.run(_call(app, "/healthz"))[0] == 200
        app.lifecycle.draining = True
        status, _, body = asyncio.run(_call(app, "/healthz"))
        served = asyncio.run(_call(app, "/hello"))
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert (status, json.loads(body)) == (503, {"status": "draining"})
    assert served[0] == 200
    assert served[2] == b"hi"
    assert served[1][b"connection"] == b"close"


def test_access_line_is_valid_json_whatever_the_path() -> None:
    read_fd, write_fd = os.pipe()
    try:
        log = JsonLog('sv"c', fd=write_fd)
        log.access("GET", '/a"b\\c\n\x01é', 404, 1.23456, 17, None, "1-5759e988-bd862e3fe1be46a994272793")
        log.access("HEAD", "/", 200, 0.0, 0, "10.0.0.1", None)
        quiet = JsonLog("svc", "warning", fd=write_fd)
        quiet.access("GET", "/hidden", 200, 1.0, 1, None, None)
        lines = _read_lines(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert len(lines) == 2
    first, second = lines
    assert first["service"] == 'sv"c'
    assert first["msg"] == "request"
    assert first["path"] == '/a"b\\c\n\x01é'
    assert (first["status"], first["duration_ms"], first["bytes"]) == (404, 1.235, 17)
    assert (first["client"], first["trace_id"]) == (None, "1-5759e988-bd862e3fe1be46a994272793")
    assert (second["method"], second["client"], second["trace_id"]) == ("HEAD", "10.0.0.1", None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
