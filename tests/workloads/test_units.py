"""Pure parts of the runtime, without sockets: content negotiation, settings, the error path."""

from __future__ import annotations

import asyncio
import errno
import logging

import aiohttp
import httpx
import pytest
import yarl
from botocore.credentials import Credentials as BotoCredentials
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from workloads.runtime.colorapp.app import ColorSettings
from workloads.runtime.common import tracing, web
from workloads.runtime.common.settings import MAX_HEADER_BYTES, ServerSettings, settings_error
from workloads.runtime.front.app import FrontSettings
from workloads.runtime.front.signing import Credentials, Signer
from workloads.runtime.front.upstream import client_failure


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("*/*", False),
        ("text/plain", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("application/json, text/plain, */*", True),
        ("text/plain, application/json", False),
        ("text/*;q=0.5, application/json", True),
        ("application/json;q=0.5, text/plain;q=0.9", False),
        ("application/json;q=0", False),
        ("application/*", True),
        ("*/*, application/json;q=0.9", False),
        ("APPLICATION/JSON", True),
        ("garbage", False),
        ("application/json;q=bogus", False),
    ],
)
def test_prefers_json(accept: str, expected: bool) -> None:
    assert web.prefers_json(accept) is expected


def test_only_the_first_media_ranges_of_accept_are_read() -> None:
    # What bounds the loop time a hostile Accept header (up to the 60 KiB header limit) can take:
    # past MAX_MEDIA_RANGES nothing is parsed, so a preference placed there is not seen.
    filler = "a/b;q=0.5, " * web.MAX_MEDIA_RANGES
    assert web.prefers_json("a/b;q=0.5, " * (web.MAX_MEDIA_RANGES - 1) + "application/json") is True
    assert web.prefers_json(filler + "application/json") is False
    huge = (filler * (MAX_HEADER_BYTES // len(filler)))[:MAX_HEADER_BYTES]
    assert web.prefers_json(huge) is False


def test_only_short_accept_values_are_kept() -> None:
    # A client sending distinct long values would otherwise make the process keep each one.
    kept = web._prefers_json_kept  # pyright: ignore[reportPrivateUsage] # the cache whose size is the point
    kept.cache_clear()
    short = "text/html, application/json;q=0.9"
    long = "text/html;q=0.1, " + "a" * (web.CACHED_ACCEPT_CHARS + 1) + ", application/json"
    assert web.prefers_json(short) is True
    assert web.prefers_json(long) is True
    assert kept.cache_info().currsize == 1
    assert web.prefers_json(short) is True
    assert kept.cache_info().hits == 1


def test_the_signer_keeps_signatures_for_short_accept_values_only() -> None:
    signer = Signer(
        Credentials(BotoCredentials("AKIDEXAMPLE", "secret", "token")), "vpc-lattice-svcs", "us-east-1"
    )
    kept = signer._cache  # pyright: ignore[reportPrivateUsage] # what a client can fill is the point
    url = "http://colorapp:8080/color"
    long = "text/plain;q=0.5, " + "a" * web.CACHED_ACCEPT_CHARS
    signed = signer.sign("GET", url, {"Accept": long})
    assert signed["Accept"] == long
    assert signed["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert kept == {}
    assert signer.sign("GET", url, {"Accept": "application/json"})["Authorization"]
    assert [key[3] for key in kept] == ["application/json"]


@pytest.mark.parametrize(
    ("exc", "error", "retryable"),
    [
        (
            aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"),
            "upstream reset the connection",
            True,
        ),
        (aiohttp.ClientOSError(errno.EPIPE, "Broken pipe"), "upstream reset the connection", True),
        (aiohttp.ClientConnectionResetError("reset"), "upstream reset the connection", True),
        (aiohttp.ServerDisconnectedError(), "upstream closed the connection", True),
        (aiohttp.ClientPayloadError("cut"), "upstream answer was cut short", True),
        (
            aiohttp.ClientOSError(errno.EHOSTUNREACH, "No route to host"),
            "connection to upstream failed",
            False,
        ),
        (
            # What aiohttp raises when its parser refuses an answer (a bad status line, say).
            aiohttp.ClientResponseError(
                aiohttp.RequestInfo(
                    yarl.URL("http://colorapp/color"), "GET", CIMultiDictProxy(CIMultiDict())
                ),
                (),
                status=400,
                message="Bad status line",
            ),
            "upstream answer is not valid HTTP/1.1",
            False,
        ),
        (aiohttp.InvalidURL("http://x y"), "upstream call failed (InvalidURL)", False),
    ],
)
def test_each_client_failure_has_front_s_own_words(
    exc: aiohttp.ClientError, error: str, retryable: bool
) -> None:
    answer = client_failure(exc, 2)
    assert (answer.error, answer.retryable, answer.attempts) == (error, retryable, 2)


def test_a_failure_detail_is_shortened() -> None:
    answer = client_failure(aiohttp.ClientPayloadError("x" * 10_000), 1)
    assert answer.detail is not None
    assert len(answer.detail) == 300
    assert answer.detail.startswith("ClientPayloadError: xxx")
    assert answer.detail.endswith("...")


@pytest.mark.parametrize(
    "color", ["\u9752", "blue\r\nx-injected: 1", "a" * 64, "-blue", "blue red", "blue\x00"]
)
def test_a_color_that_cannot_go_into_a_header_is_refused_naming_the_variable(color: str) -> None:
    # Before, a non-Latin-1 color crashed the app at start-up and a newline made every answer a 500.
    with pytest.raises(ValidationError) as caught:
        ColorSettings(color=color)
    assert settings_error(caught.value).startswith("COLOR: Value error, expected 1-63 letters, digits")


def test_colors_the_deployments_use_are_accepted() -> None:
    for color in ("blue", "red", "v2", "a" * 63, "Blue_1.0"):
        assert ColorSettings(color=f" {color} ").color == color


@pytest.mark.parametrize(
    "host",
    [
        "evil host:80",
        "a\r\nb:80",
        "::1:80",
        "[1.2.3.4]:80",
        "user@x:80",
        "x?y:80",
        "x#y:80",
        "\u00e9.com:80",
        "a" * 64 + ":80",
        " x:80",
        "x:\u0668\u0660",
        "-x:80",
        "x:0",
        "x:65536",
        "x",
    ],
)
def test_color_host_must_be_a_dns_name_or_an_address_and_a_port(host: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FrontSettings(color_host=host)
    assert settings_error(caught.value).startswith("COLOR_HOST: Value error, must be host:port")


@pytest.mark.parametrize(
    "host",
    [
        "colorapp.appmesh-demo.pvt.aws.local:8080",
        "127.0.0.1:8080",
        "[::1]:8080",
        "colorapp-0a1b2c3d4e5f.7d67968.vpc-lattice-svcs.us-east-1.on.aws:80",
    ],
)
def test_color_host_takes_the_names_the_backends_give(host: str) -> None:
    assert FrontSettings(color_host=host).policy().host == host


def test_aws_region_must_look_like_a_region() -> None:
    assert FrontSettings(aws_region="us-gov-west-1", upstream_auth="sigv4").aws_region == "us-gov-west-1"
    for region in ("us east 1", "US-EAST-1", "us-east-1\n", "../x"):
        with pytest.raises(ValidationError) as caught:
            FrontSettings(aws_region=region, upstream_auth="sigv4")
        assert settings_error(caught.value).startswith("AWS_REGION: Value error, expected an AWS region name")


def test_header_bytes_counts_names_and_values() -> None:
    assert web.header_bytes([(b"host", b"x"), (b"accept", b"*/*")]) == 4 + 1 + 6 + 3


def test_settings_errors_name_the_variable_and_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        FrontSettings(upstream_timeout_ms="soon", color_host="http://x:1")  # type: ignore[arg-type] # as the environment gives it
    message = settings_error(caught.value)
    assert "UPSTREAM_TIMEOUT_MS: Input should be a valid integer" in message
    assert "got 'soon'" in message
    assert "COLOR_HOST: Value error, must be host:port" in message


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9090")
    monkeypatch.setenv("UPSTREAM_MAX_RETRIES", "0")
    settings = FrontSettings()
    assert (settings.host, settings.port, settings.upstream_max_retries) == ("0.0.0.0", 9090, 0)
    assert settings.upstream_auth == "none"
    assert settings.policy().url == "http://colorapp.appmesh-demo.pvt.aws.local:8080/color"
    assert ServerSettings().header_read_timeout_ms == 5000
    with pytest.raises(ValidationError):
        ColorSettings()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("HOST", "not-an-ip", "HOST: Value error, expected an IP address to listen on"),
        ("HOST", "localhost", "HOST: Value error, expected an IP address to listen on"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "notaurl",
            "OTEL_EXPORTER_OTLP_ENDPOINT: Value error, expected an http(s)",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317", "OTEL_EXPORTER_OTLP_ENDPOINT: Value error"),
    ],
)
def test_settings_the_server_or_the_exporter_would_only_trip_on_later_are_refused_at_start(
    variable: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        ServerSettings()
    assert expected in settings_error(caught.value)


def test_ipv6_and_collector_urls_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST", "::")
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.appmesh-demo.svc.cluster.local:4318"
    )
    settings = ServerSettings()
    assert (settings.host, settings.otel_exporter_otlp_endpoint.endswith(":4318")) == ("::", True)


def test_front_takes_in_a_few_pools_worth_of_requests_not_colorapps_thousand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each request front takes in waits for one of its pool's connections; at 2,000 client connections
    # 1,024 in flight held 119 MiB and let waits run into the deadline (bench/apps/README.md).
    front = FrontSettings()
    assert front.upstream_max_connections <= front.max_connections <= 4 * front.upstream_max_connections
    assert ColorSettings(color="blue").max_connections == ServerSettings().max_connections == 1024
    monkeypatch.setenv("MAX_CONNECTIONS", "512")
    assert FrontSettings().max_connections == 512


def test_a_handler_crash_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    async def call() -> httpx.Response:
        app = web.build("svc", [Route("/broken", broken)], tracer_provider=tracing.provider("svc", []))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/broken")

    with caplog.at_level(logging.INFO):
        response = asyncio.run(call())
    assert response.status_code == 500
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[0].getMessage() == "unhandled error"
    assert errors[0].exc_info is not None
    assert [getattr(r, "status", None) for r in caplog.records if r.getMessage() == "request"] == [500]
