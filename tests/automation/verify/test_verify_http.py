"""The HTTP check against real fake-front servers on 127.0.0.1 (ephemeral ports).

Servers answer from a fixed cyclic schedule, so color counts are exact and every verdict is
deterministic; only latency numbers vary between runs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from automation.verify.httpcheck import (
    allowed_errors,
    answer_color,
    check_http,
    color_url,
    parse_color,
    run_http_only,
    wait_until_reachable,
)
from automation.verify.settings import HttpCheckSettings

pytestmark = pytest.mark.network

FIFTY_FIFTY = {"blue": 50, "red": 50}
NINETY_TEN = {"blue": 90, "red": 10}


def test_happy_path_fifty_fifty_passes(fake_front: Callable[..., Any]) -> None:
    front = fake_front(schedule=["blue", "red"])
    report = run_http_only(front.url, FIFTY_FIFTY, HttpCheckSettings(requests=200))
    assert report.ok, report.checks
    assert report.http is not None
    assert report.http.requests == 200
    assert report.http.errors == 0
    assert report.http.shares == {"blue": 0.5, "red": 0.5}
    assert report.http.p50_ms is not None
    assert report.http.p99_ms is not None
    assert 0 < report.http.p50_ms <= report.http.p99_ms
    assert front.hits == 200
    assert set(front.paths) == {"/color"}
    data = report.to_dict()
    assert set(data) == {"ok", "checks", "http"}
    assert set(data["http"]) == {"requests", "errors", "p50_ms", "p99_ms", "shares"}
    assert data["checks"][0]["name"] == f"http {front.url}/color"


def test_only_blue_answering_fails_when_weights_are_fifty_fifty(fake_front: Callable[..., Any]) -> None:
    front = fake_front(schedule=["blue"])
    report = run_http_only(front.url, FIFTY_FIFTY, HttpCheckSettings(requests=200))
    assert not report.ok
    assert report.http is not None
    assert report.http.shares == {"blue": 1.0, "red": 0.0}
    assert "red (weight 50) never answered" in report.checks[0].detail


def test_colorapp_down_counts_502s_as_errors(fake_front: Callable[..., Any]) -> None:
    front = fake_front(status=502)
    report = run_http_only(front.url, FIFTY_FIFTY, HttpCheckSettings(requests=100))
    assert not report.ok
    assert report.http is not None
    assert report.http.errors == 100
    assert report.http.p50_ms is None
    assert report.http.shares == {"blue": 0.0, "red": 0.0}
    detail = report.checks[0].detail
    assert "100 errors exceed the budget of 1 (HTTP 502 x100)" in detail
    assert "no successful answers" in detail


def test_slow_front_times_out_within_a_bounded_time(fake_front: Callable[..., Any]) -> None:
    front = fake_front(delay_s=5.0)
    started = time.perf_counter()
    result, stats = check_http(
        front.url, FIFTY_FIFTY, HttpCheckSettings(requests=40, concurrency=20, timeout_s=0.2)
    )
    elapsed = time.perf_counter() - started
    assert not result.ok
    assert stats.errors == 40
    assert "timeout x40" in result.detail
    # Two rounds of 20 concurrent requests, each cut at 0.2 s: about 0.4 s, far below the 5 s delay.
    assert elapsed < 2.0


def test_ninety_ten_served_ninety_ten_passes(fake_front: Callable[..., Any]) -> None:
    front = fake_front(schedule=["blue"] * 9 + ["red"])
    report = run_http_only(front.url, NINETY_TEN, HttpCheckSettings(requests=200))
    assert report.ok, report.checks[0].detail
    assert report.http is not None
    assert report.http.shares == {"blue": 0.9, "red": 0.1}


def test_ninety_ten_served_fifty_fifty_fails(fake_front: Callable[..., Any]) -> None:
    front = fake_front(schedule=["blue", "red"])
    report = run_http_only(front.url, NINETY_TEN, HttpCheckSettings(requests=200))
    assert not report.ok
    assert "blue share 0.500 is inconsistent with weight share 0.900" in report.checks[0].detail


def test_error_budget_allows_one_percent(fake_front: Callable[..., Any]) -> None:
    assert allowed_errors(200, 0.01) == 2
    assert allowed_errors(100, 0.01) == 1
    within = fake_front(schedule=["blue", "red"], fail_hits=frozenset({7, 150}))
    report = run_http_only(within.url, FIFTY_FIFTY, HttpCheckSettings(requests=200))
    assert report.ok, report.checks[0].detail
    assert report.http is not None
    assert report.http.errors == 2
    beyond = fake_front(schedule=["blue", "red"], fail_hits=frozenset({7, 80, 150}))
    failed = run_http_only(beyond.url, FIFTY_FIFTY, HttpCheckSettings(requests=200))
    assert not failed.ok
    assert "3 errors exceed the budget of 2 (HTTP 502 x3)" in failed.checks[0].detail
    # The same two failures with no budget at all (a fresh server: failures are keyed to hit numbers).
    again = fake_front(schedule=["blue", "red"], fail_hits=frozenset({7, 150}))
    strict = run_http_only(again.url, FIFTY_FIFTY, HttpCheckSettings(requests=200, max_error_rate=0.0))
    assert not strict.ok
    assert "2 errors exceed the budget of 0" in strict.checks[0].detail


def test_zero_weight_or_unknown_colors_fail(fake_front: Callable[..., Any]) -> None:
    front = fake_front(schedule=["blue", "red"])
    zero = run_http_only(front.url, {"blue": 100, "red": 0}, HttpCheckSettings(requests=100))
    assert not zero.ok
    assert "red has weight 0 but answered 50 times" in zero.checks[0].detail
    green = fake_front(schedule=["blue", "red", "blue", "red", "green"])
    unknown = run_http_only(green.url, FIFTY_FIFTY, HttpCheckSettings(requests=100))
    assert not unknown.ok
    assert unknown.http is not None
    assert unknown.http.shares == {"blue": 0.4, "red": 0.4, "green": 0.2}
    assert "unknown color 'green' answered 20 times" in unknown.checks[0].detail


def test_three_colors_exact_thirds_pass_and_skew_fails(fake_front: Callable[..., Any]) -> None:
    weights = {"blue": 1, "red": 1, "green": 1}
    even = fake_front(schedule=["blue", "red", "green"])
    report = run_http_only(even.url, weights, HttpCheckSettings(requests=300))
    assert report.ok, report.checks[0].detail
    assert "at alpha 0.000333" in report.checks[0].detail
    skewed = fake_front(schedule=["blue", "blue", "red", "green"])
    assert not run_http_only(skewed.url, weights, HttpCheckSettings(requests=300)).ok


def test_json_answers_are_understood(fake_front: Callable[..., Any]) -> None:
    front = fake_front(schedule=["blue", "red"], json_body=True)
    report = run_http_only(front.url, FIFTY_FIFTY, HttpCheckSettings(requests=50))
    assert report.http is not None
    assert report.http.shares == {"blue": 0.5, "red": 0.5}
    assert report.ok


def test_concurrency_is_bounded_and_real(fake_front: Callable[..., Any]) -> None:
    front = fake_front(schedule=["blue", "red"], delay_s=0.03)
    result, _ = check_http(front.url, FIFTY_FIFTY, HttpCheckSettings(requests=60, concurrency=5, timeout_s=2))
    assert result.ok, result.detail
    assert 2 <= front.max_in_flight <= 5


def test_unreachable_front_counts_connect_errors(closed_port_url: str) -> None:
    report = run_http_only(closed_port_url, FIFTY_FIFTY, HttpCheckSettings(requests=20, timeout_s=1))
    assert not report.ok
    assert report.http is not None
    assert report.http.errors == 20
    assert "connect error x20" in report.checks[0].detail


def test_wait_until_reachable(fake_front: Callable[..., Any], closed_port_url: str, fake_clock: Any) -> None:
    down = fake_front(status=502)
    assert wait_until_reachable(down.url, deadline_s=5, clock=fake_clock, sleep=fake_clock.sleep).done
    assert fake_clock.sleeps == []
    never = wait_until_reachable(
        closed_port_url, deadline_s=5, timeout_s=1, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert never.timed_out
    # Attempts at t=0, 1 and 3, then the last 2 s are slept and one final attempt lands at t=5.
    assert never.attempts == 4
    assert fake_clock.sleeps == [1, 2, 2]
    assert never.value is not None
    assert never.value.startswith("connect error")


def test_run_http_only_reachability_wait_gives_up_cleanly(closed_port_url: str) -> None:
    report = run_http_only(
        closed_port_url, FIFTY_FIFTY, HttpCheckSettings(requests=10), reachable_deadline_s=0
    )
    assert not report.ok
    assert report.http is None
    assert "front never answered within 0s" in report.checks[0].detail


def test_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="front URL must be"):
        color_url("ftp://front.example")


def test_rejects_unusable_weights() -> None:
    with pytest.raises(ValueError, match="at least one weight must be positive"):
        run_http_only("http://127.0.0.1:9", {"blue": 0}, HttpCheckSettings(requests=10))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://front.example", "http://front.example/color"),
        ("http://front.example/", "http://front.example/color"),
        ("http://front.example/color", "http://front.example/color"),
        ("a1b2.elb.amazonaws.com", "http://a1b2.elb.amazonaws.com/color"),
        ("http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/prefix/color"),
    ],
)
def test_color_url(given: str, expected: str) -> None:
    assert color_url(given) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "color"),
    [
        (b"blue", "text/plain", "blue"),
        (b"red\n", "text/plain; charset=utf-8", "red"),
        (b'{"color": "blue"}', "application/json", "blue"),
        (b'{"colour": "blue"}', "application/json", None),
        (b"not json", "application/json", None),
        (b"", "text/plain", None),
        (b"<html>upstream error</html>", "text/html", None),
        (b"\xff\xfe", "text/plain", None),
        (b'{"color": "red"}', "Application/JSON; charset=utf-8", "red"),
        # What front sends reaches the terminal and the report: a color is a printable token of at
        # most 64 characters, in JSON as in text (JSON colors used to skip every rule).
        (b"[" * 3000, "application/json", None),  # nested past the parser's depth: RecursionError
        (b'{"color": "' + b"A" * 1_000_000 + b'"}', "application/json", None),
        (b'{"color": "\\ud800"}', "application/json", None),  # a lone surrogate cannot be printed
        (b"\x1b]0;PWNED\x07\x1b[2J\x1b[31mred", "text/plain", None),
        (b'{"color": "\\u001b[2Jred"}', "application/json", None),
        (b"red\xe2\x80\x8b", "text/plain", None),  # red and a zero-width space: a lookalike of red
        (b'{"color": "two words"}', "application/json", None),
    ],
)
def test_parse_color(body: bytes, content_type: str, color: str | None) -> None:
    assert parse_color(content_type, body) == color


def test_a_color_that_looks_like_markup_is_shown_as_written() -> None:
    # rich read "[/bold]" in a table as a closing tag: MarkupError, a traceback and no JSON document.
    from rich.console import Console

    from automation.verify.model import CheckResult, HttpStats, VerifyReport
    from automation.verify.render import render_report

    stats = HttpStats(requests=2, errors=0, p50_ms=1.0, p99_ms=1.0, shares={"[/bold]": 1.0})
    report = VerifyReport(checks=(CheckResult("http [/x]", False, "answers [/bold]=2"),), http=stats)
    console = Console(record=True, width=200)
    render_report(report, console)
    text = console.export_text()
    assert "[/bold]" in text
    assert "http [/x]" in text


def test_each_version_is_counted_by_fronts_version_header_not_the_body(
    fake_front: Callable[..., Any],
) -> None:
    """front's ``x-crossmesh-version`` names the version that answered; the body alone would say all
    blue here, the header says half red, and the header is what is judged."""
    front = fake_front(schedule=["blue"], version_schedule=["blue", "red"])
    report = run_http_only(front.url, FIFTY_FIFTY, HttpCheckSettings(requests=100))
    assert report.ok, report.checks
    assert report.http is not None
    assert report.http.shares == {"blue": 0.5, "red": 0.5}


def test_a_version_header_against_the_weights_fails(fake_front: Callable[..., Any]) -> None:
    """Bodies alternate 50/50, but the header says only blue answered: the check fails."""
    front = fake_front(schedule=["blue", "red"], version_schedule=["blue"])
    report = run_http_only(front.url, FIFTY_FIFTY, HttpCheckSettings(requests=100))
    assert not report.ok
    assert report.http is not None
    assert report.http.shares == {"blue": 1.0, "red": 0.0}


@pytest.mark.parametrize(
    ("version", "body", "color"),
    [
        ("red", b"blue", "red"),
        (None, b"blue", "blue"),
        ("", b"blue", None),
        ("no way", b"blue", None),
        ("\x9b2J", b"blue", None),  # a C1 control code, as a latin-1 header decodes it
    ],
)
def test_answer_color_prefers_the_header(version: str | None, body: bytes, color: str | None) -> None:
    assert answer_color(version, "text/plain", body) == color


@contextlib.contextmanager
def _raw_front(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A front on 127.0.0.1 that reads each request and hands the connection to ``answer`` (with the
    event set at the end of the test); yields its URL."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                with contextlib.suppress(OSError):  # the check hung up: what these tests want
                    answer(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_an_endless_answer_is_cut_at_the_cap_and_counted_as_an_error() -> None:
    # The body used to be kept whole: an endless chunked answer grew the check to gigabytes.
    from automation.verify.httpcheck import MAX_ANSWER_BYTES

    sent: list[int] = []

    def endless_chunks(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"r" * 65536)
        total = 0
        try:
            while not stop.is_set() and total < 64 * MAX_ANSWER_BYTES:
                conn.sendall(chunk)
                total += 65536
        finally:
            sent.append(total)

    with _raw_front(endless_chunks) as url:
        started = time.monotonic()
        report = run_http_only(url, FIFTY_FIFTY, HttpCheckSettings(requests=2, timeout_s=5, concurrency=1))
        assert time.monotonic() - started < 10
    assert not report.ok
    assert report.http is not None
    assert report.http.errors == 2
    assert sent
    assert all(total < 64 * MAX_ANSWER_BYTES for total in sent)  # the check stopped reading early


def test_an_answer_whose_body_never_ends_is_reachable_at_once() -> None:
    # The reachability probe read the whole body: an endless one kept it (and memory) growing past
    # --deadline, and a cut-short one was reported as "never answered".
    from automation.verify.httpcheck import wait_until_reachable

    def endless_body(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b"r" * 65536)

    with _raw_front(endless_body) as url:
        started = time.monotonic()
        result = wait_until_reachable(url, deadline_s=5, timeout_s=2)
        took = time.monotonic() - started
    assert result.done
    assert result.value is None
    assert took < 2
