"""front signs its upstream calls with SigV4 for VPC Lattice; checked from the bytes a server receives.

A raw socket server on 127.0.0.1 records exactly what front sent. The check rebuilds the canonical
request from those bytes and recomputes the signature with botocore's own SigV4 code and the same
credentials, as Lattice does on its side (that Lattice then answers 403 to unsigned or unauthorised
callers is AWS's enforcement:
https://docs.aws.amazon.com/vpc-lattice/latest/ug/sigv4-authenticated-requests.html).
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import Callable

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.credentials import RefreshableCredentials

from tests.workloads.servers import Launcher, ScriptedUpstream
from workloads.runtime.front.signing import Credentials

pytestmark = pytest.mark.network

KEY, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example"
REGION = "us-east-1"
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def parse(raw: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
    request_line, *lines = head.split("\r\n")
    method, target, _ = request_line.split(" ")
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    return method, target, headers


def signature_valid(raw: bytes, secret: str = SECRET) -> bool:
    """Rebuild the canonical request from the received bytes and check the signature with botocore."""
    method, target, headers = parse(raw)
    by_name = {name.lower(): value for name, value in headers}
    match = AUTHORIZATION.match(by_name["authorization"])
    assert match, by_name["authorization"]
    signed = match["signed"].split(";")
    request = AWSRequest(
        method=method,
        url=f"http://{by_name['host']}{target}",
        headers={name: by_name[name] for name in signed},
    )
    request.context["timestamp"] = by_name["x-amz-date"]
    signer = SigV4Auth(
        BotoCredentials(match["key"], secret, by_name.get("x-amz-security-token")),
        match["service"],
        match["region"],
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return (
        expected == match["signature"]
        and signer.signed_headers(signer.headers_to_sign(request)) == match["signed"]
    )


ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-crossmesh-version: blue\r\n"
    b"content-length: 4\r\nconnection: close\r\n\r\nblue"
)


@pytest.fixture
def raw_server(scripted_upstream: Callable[..., ScriptedUpstream]) -> ScriptedUpstream:
    """Records exactly the bytes front sends and answers 200 with a color."""
    return scripted_upstream(reply=ANSWER)


def test_front_signs_each_call_and_a_changed_signed_header_fails(
    launcher: Launcher, raw_server: ScriptedUpstream
) -> None:
    front = launcher.start(
        "workloads.runtime.front",
        {
            "COLOR_HOST": raw_server.host,
            "UPSTREAM_AUTH": "sigv4",
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": TOKEN,
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    response = httpx.get(front.url("/color"), headers={"Accept": "application/json"}, timeout=10)
    assert (response.status_code, response.text) == (200, "blue")
    (raw,) = raw_server.received
    _, target, headers = parse(raw)
    by_name = {name.lower(): value for name, value in headers}
    assert target == "/color"
    assert by_name["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert by_name["x-amz-security-token"] == TOKEN
    match = AUTHORIZATION.match(by_name["authorization"])
    assert match
    assert (match["key"], match["region"], match["service"]) == (KEY, REGION, "vpc-lattice-svcs")
    assert {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "accept"} <= set(
        match["signed"].split(";")
    )
    when = datetime.datetime.strptime(by_name["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    assert abs((datetime.datetime.now(datetime.UTC) - when).total_seconds()) < 60

    assert signature_valid(raw)
    # Any signed header changed in transit, or a wrong secret, and the signature no longer matches.
    assert not signature_valid(raw.replace(b"application/json", b"application/xml"))
    assert not signature_valid(
        raw.replace(raw_server.host.encode(), b"127.0.0.2:" + raw_server.host.split(":")[1].encode())
    )
    assert not signature_valid(raw, secret="not-the-secret")

    # Later calls are signed too (a signature is reused for identical signed content within a
    # minute); the trace context rides along unsigned and differs per call.
    for accept in ("application/json", "text/plain"):
        assert httpx.get(front.url("/color"), headers={"Accept": accept}, timeout=10).status_code == 200
    later = raw_server.received[1:]
    assert len(later) == 2
    assert all(signature_valid(r) for r in later)
    traceparents = [{n.lower(): v for n, v in parse(r)[2]}["traceparent"] for r in raw_server.received]
    assert len(set(traceparents)) == 3
    assert "traceparent" not in match["signed"].split(";")


def test_credentials_are_refreshed_off_the_loop_before_they_expire() -> None:
    issued: list[str] = []
    now = datetime.datetime.now(datetime.UTC)

    def refresh() -> dict[str, str]:
        issued.append(f"AKIDREFRESHED{len(issued)}")
        return {
            "access_key": issued[-1],
            "secret_key": "s",
            "token": "t",
            "expiry_time": (now + datetime.timedelta(hours=1)).isoformat(),
        }

    source = RefreshableCredentials.create_from_metadata(
        {
            "access_key": "AKIDFIRST",
            "secret_key": "s",
            "token": "t",
            "expiry_time": (now + datetime.timedelta(hours=1)).isoformat(),
        },
        refresh_using=refresh,
        method="test",
    )

    async def scenario() -> tuple[str, str]:
        credentials = await asyncio.to_thread(Credentials, source)
        first = credentials.current.access_key
        # 55 minutes later: 5 minutes left, inside botocore's mandatory refresh window.
        source._expiry_time = now + datetime.timedelta(minutes=5)  # pyright: ignore[reportPrivateUsage]
        await credentials.refresh()
        return first, credentials.current.access_key

    first, after = asyncio.run(scenario())
    assert first == "AKIDFIRST"
    assert after == "AKIDREFRESHED0"
    assert issued == ["AKIDREFRESHED0"]
