"""front's upstream client: retries, per-try and overall deadlines, the retry budget, what it reports.

In-process against fake upstreams on 127.0.0.1 (real sockets, real aiohttp), plus one run of the
real front that shows the headers and the log line.
"""

from __future__ import annotations

import asyncio
import gzip
import random
import time
from collections.abc import Callable

import httpx
import pytest

from tests.workloads.servers import Launcher, ScriptedUpstream, Upstream, unused_port
from workloads.runtime.front.retry import BACKOFF_CAP_SECONDS, RetryBudget, backoff
from workloads.runtime.front.upstream import Answer, ColorClient, UpstreamPolicy

pytestmark = pytest.mark.network


def policy(host: str, **overrides: float) -> UpstreamPolicy:
    values: dict[str, float] = {
        "timeout": 3.0,
        "per_try_timeout": 1.0,
        "connect_timeout": 1.0,
        "max_retries": 2,
        "retry_budget_percent": 20.0,
        "max_connections": 10,
        **overrides,
    }
    return UpstreamPolicy(
        url=f"http://{host}/color",
        host=host,
        timeout=values["timeout"],
        per_try_timeout=values["per_try_timeout"],
        connect_timeout=values["connect_timeout"],
        max_retries=int(values["max_retries"]),
        retry_budget_percent=values["retry_budget_percent"],
        max_connections=int(values["max_connections"]),
    )


def calls(client_policy: UpstreamPolicy, n: int = 1) -> tuple[list[Answer], ColorClient]:
    async def run() -> tuple[list[Answer], ColorClient]:
        client = ColorClient(client_policy, rng=random.Random(7))
        await client.start()
        try:
            return [await client.color(None) for _ in range(n)], client
        finally:
            await client.close()

    return asyncio.run(run())


def test_503_then_200_is_retried_and_reports_two_attempts(fake_upstream: Callable[..., Upstream]) -> None:
    upstream = fake_upstream(statuses=[503], headers={"x-crossmesh-version": "blue"})
    (answer,), _ = calls(policy(upstream.host))
    assert answer.ok
    assert (answer.status, answer.attempts, answer.version, answer.body) == (200, 2, "blue", b"green")
    assert len(upstream.requests) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_up_to_the_limit(
    fake_upstream: Callable[..., Upstream], status: int
) -> None:
    upstream = fake_upstream(status=status)
    (answer,), _ = calls(policy(upstream.host, max_retries=2))
    assert (answer.status, answer.attempts, answer.error) == (status, 3, f"upstream answered {status}")
    assert len(upstream.requests) == 3


@pytest.mark.parametrize("status", [500, 404, 429])
def test_other_errors_are_not_retried(fake_upstream: Callable[..., Upstream], status: int) -> None:
    upstream = fake_upstream(status=status)
    (answer,), _ = calls(policy(upstream.host))
    assert (answer.status, answer.attempts) == (status, 1)
    assert len(upstream.requests) == 1


def test_no_app_retries_when_max_retries_is_zero(fake_upstream: Callable[..., Upstream]) -> None:
    # Where Envoy retries (App Mesh), front must not: UPSTREAM_MAX_RETRIES=0.
    upstream = fake_upstream(status=503)
    (answer,), _ = calls(policy(upstream.host, max_retries=0))
    assert answer.attempts == 1
    assert len(upstream.requests) == 1


def test_connect_errors_are_retried() -> None:
    host = f"127.0.0.1:{unused_port()}"
    (answer,), _ = calls(policy(host, max_retries=2))
    assert answer.attempts == 3
    assert answer.error is not None
    assert answer.error.startswith("cannot connect")


def test_per_try_timeout_is_retried_within_the_overall_deadline(
    fake_upstream: Callable[..., Upstream],
) -> None:
    slow = fake_upstream(delay=2.0)
    started = time.monotonic()
    (answer,), _ = calls(policy(slow.host, per_try_timeout=0.3, timeout=1.0, max_retries=5))
    elapsed = time.monotonic() - started
    # Three tries of 0.3 s (plus backoff) fit in 1 s; the deadline stops the rest.
    assert answer.attempts >= 2
    assert answer.attempts <= 4
    assert elapsed < 1.6
    assert not answer.ok


SECRET_LOOKING = b"AKIA-upstream-bytes"
"""Raw bytes an upstream sends: they may appear in the log's detail, never in the public error."""


@pytest.mark.parametrize(
    ("reply", "reset", "error", "attempts"),
    [
        pytest.param(
            b"\x00\xff" + SECRET_LOOKING + b"\r\n\r\n",
            False,
            "upstream answer is not valid HTTP/1.1",
            1,
            id="not-http",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nx-big: " + SECRET_LOOKING * 5000 + b"\r\ncontent-length: 4\r\n\r\nblue",
            False,
            "upstream answer is not valid HTTP/1.1",
            1,
            id="header-line-over-8190-bytes",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n" + SECRET_LOOKING[:4],
            False,
            "upstream answer was cut short",
            3,
            id="body-cut-short",
        ),
        pytest.param(b"", False, "upstream closed the connection", 3, id="closed-before-answering"),
        pytest.param(b"", True, None, 3, id="reset-before-answering"),
    ],
)
def test_a_broken_answer_is_reported_in_front_s_words_and_retried_when_the_connection_broke(
    scripted_upstream: Callable[..., ScriptedUpstream],
    reply: bytes,
    reset: bool,
    error: str | None,
    attempts: int,
) -> None:
    upstream = scripted_upstream(reply=reply, reset=reset)
    (answer,), _ = calls(policy(upstream.host, max_retries=2))
    # Every request the upstream saw is one of front's attempts: none resent behind the count.
    assert (answer.attempts, upstream.requests) == (attempts, attempts)
    if error is None:
        # A reset surfaces as ECONNRESET or as a plain close, depending on the event loop's timing.
        assert answer.error in {"upstream reset the connection", "upstream closed the connection"}
    else:
        assert answer.error == error
        assert answer.detail is None or len(answer.detail) <= 300


def test_the_retry_budget_caps_retries_at_a_share_of_requests(fake_upstream: Callable[..., Upstream]) -> None:
    upstream = fake_upstream(status=503)
    answers, client = calls(policy(upstream.host, max_retries=3, retry_budget_percent=20), n=60)
    retries = sum(a.attempts - 1 for a in answers)
    # The reserve (10) plus 20% of the 60 requests; without the budget it would be 180.
    assert retries <= RetryBudget.RESERVE + 0.2 * 60
    assert retries >= RetryBudget.RESERVE
    assert answers[-1].attempts == 1
    assert len(upstream.requests) == 60 + retries
    assert client.budget.tokens < 1


def test_backoff_is_jittered_and_capped() -> None:
    rng = random.Random(1)
    waits = [backoff(n, rng) for n in range(1, 12) for _ in range(20)]
    assert all(0 <= w <= BACKOFF_CAP_SECONDS for w in waits)
    assert len({round(w, 6) for w in waits}) > 100
    assert max(backoff(1, rng) for _ in range(50)) <= 0.025


def test_front_answers_with_version_and_attempts_headers_and_logs_them(
    launcher: Launcher, fake_upstream: Callable[..., Upstream]
) -> None:
    upstream = fake_upstream(statuses=[503, 502], headers={"x-crossmesh-version": "red"})
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": upstream.host, "UPSTREAM_MAX_RETRIES": "2"}
    )
    response = httpx.get(front.url("/color"), timeout=10)
    assert response.status_code == 200
    assert response.headers["x-crossmesh-version"] == "red"
    assert response.headers["x-crossmesh-attempts"] == "3"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [r for r in front.logs() if r.get("msg") == "upstream answered after retries"]
        if lines:
            break
        time.sleep(0.05)
    assert lines[0]["attempts"] == 3
    assert lines[0]["version"] == "red"


def test_front_relays_an_encoded_answer_with_its_encoding_and_keeps_upstream_bytes_out_of_a_502(
    launcher: Launcher,
    fake_upstream: Callable[..., Upstream],
    scripted_upstream: Callable[..., ScriptedUpstream],
) -> None:
    encoded = gzip.compress(b"blue")
    gzipped = fake_upstream(body=encoded, headers={"Content-Encoding": "gzip"})
    front = launcher.start("workloads.runtime.front", {"COLOR_HOST": gzipped.host})
    response = httpx.get(front.url("/color"), timeout=10)  # httpx decodes what is labelled gzip
    assert (response.status_code, response.headers["content-encoding"], response.text) == (
        200,
        "gzip",
        "blue",
    )
    assert "accept-encoding" not in gzipped.requests[0]

    broken = scripted_upstream(reply=b"\x00" + SECRET_LOOKING + b"\r\n\r\n")
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": broken.host, "UPSTREAM_MAX_RETRIES": "0"}
    )
    failed = httpx.get(front.url("/color"), timeout=10)
    assert failed.status_code == 502
    assert failed.json()["error"] == "upstream answer is not valid HTTP/1.1"
    assert SECRET_LOOKING.decode() not in failed.text
    deadline = time.monotonic() + 5
    lines: list[dict[str, object]] = []
    while time.monotonic() < deadline and not lines:
        lines = [r for r in front.logs() if r.get("msg") == "upstream failed"]
        time.sleep(0.05)
    assert SECRET_LOOKING.decode() in str(lines[0]["detail"])


def answer_from(version: str) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\nx-crossmesh-version: %s\r\n\r\n%s"
        % (len(version), version.encode(), version.encode())
    )


def test_an_answer_the_upstream_sends_to_no_request_is_never_relayed_as_the_next_one(
    launcher: Launcher, scripted_upstream: Callable[..., ScriptedUpstream]
) -> None:
    # After each real answer, the upstream pushes a second one down the idle kept-alive connection.
    # Taken as the answer to front's next request, it would shift every later answer by one: each
    # client would get what the upstream said to the client before it.
    upstream = scripted_upstream(reply=answer_from("blue"), unsolicited=answer_from("injected"))
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": upstream.host, "UPSTREAM_MAX_RETRIES": "0"}
    )
    versions: list[str | None] = []
    with httpx.Client(timeout=10) as client:
        for _ in range(3):
            response = client.get(front.url("/color"))
            versions.append(response.headers.get("x-crossmesh-version"))
            time.sleep(0.5)  # the pushed answer arrives while front's connection is idle in its pool
    assert versions == ["blue", "blue", "blue"]
    # Each call found its pooled connection spoiled, so each went out on a new one.
    assert (upstream.requests, upstream.connections) == (3, 3)
    spoiled = [r for r in front.logs() if r.get("msg", "").startswith("upstream sent bytes on an idle")]
    assert len(spoiled) == 2


@pytest.mark.parametrize(
    ("header", "value"),
    [
        pytest.param("x-crossmesh-version", "\u20ac".encode(), id="version-outside-latin-1"),
        pytest.param("x-crossmesh-version", b"\xff\xfe", id="version-not-utf-8"),
        pytest.param("x-crossmesh-version", b"bl\x01ue", id="version-control-character"),
        pytest.param("x-crossmesh-version", b"b" * 8000, id="version-8000-characters"),
        pytest.param("x-crossmesh-version", b"<b>blue</b>", id="version-markup"),
        pytest.param("content-type", b"text/plain\x7f", id="content-type-control-character"),
        pytest.param("content-type", "text/plain; x=\u2603".encode(), id="content-type-outside-latin-1"),
        pytest.param("content-encoding", b"gz\x0bip", id="content-encoding-control-character"),
    ],
)
def test_a_header_front_would_relay_is_checked_so_a_broken_one_is_a_502_not_a_crash(
    launcher: Launcher, scripted_upstream: Callable[..., ScriptedUpstream], header: str, value: bytes
) -> None:
    # The version header carries colorapp's COLOR as it is; the types name the body. A value the
    # server cannot send (outside Latin-1, or a control character) made front fail with a 500 and a
    # traceback; one it can send was passed on to the client whatever it said.
    upstream = scripted_upstream(
        reply=b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n%s: %s\r\n\r\nblue" % (header.encode(), value)
    )
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": upstream.host, "UPSTREAM_MAX_RETRIES": "0"}
    )
    response = httpx.get(front.url("/color"), timeout=10)
    assert response.status_code == 502
    assert response.json() == {
        "error": f"upstream answer has an invalid {header} header",
        "upstream": upstream.host,
        "attempts": 1,
    }
    assert "x-crossmesh-version" not in response.headers
    deadline = time.monotonic() + 5
    lines: list[dict[str, object]] = []
    while time.monotonic() < deadline and not lines:
        lines = [r for r in front.logs() if r.get("msg") == "upstream failed"]
        time.sleep(0.05)
    assert len(str(lines[0]["detail"])) <= 300
    assert not [r for r in front.logs() if r.get("level") == "error"]


def test_a_failed_answer_with_a_broken_version_is_still_retried_as_its_status_says(
    launcher: Launcher, scripted_upstream: Callable[..., ScriptedUpstream]
) -> None:
    # A 503 is retried whatever else it carries: front does not relay it, so a version header it
    # cannot pass on is dropped rather than turning a retryable answer into a final one.
    upstream = scripted_upstream(
        reply=b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nx-crossmesh-version: <b>\r\n\r\n"
    )
    front = launcher.start(
        "workloads.runtime.front", {"COLOR_HOST": upstream.host, "UPSTREAM_MAX_RETRIES": "2"}
    )
    response = httpx.get(front.url("/color"), timeout=10)
    assert response.status_code == 502
    assert response.json() == {
        "error": "upstream answered 503",
        "upstream": upstream.host,
        "attempts": 3,
        "status": 503,
    }
    assert upstream.requests == 3
    assert "x-crossmesh-version" not in response.headers
