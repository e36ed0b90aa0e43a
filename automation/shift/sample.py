"""The HTTP burst of one step: ``GET /color`` through front, keeping front's version and attempts headers.

The same client as verify's check (httpcore, one keep-alive connection per worker, a per-request
bound), but every answer is kept with the version that gave it, so each version is judged by its own
answers (judge.py). Never raises for I/O: a failed request is an :class:`Answer` with ``ok=False``.
"""

from __future__ import annotations

import asyncio
import time

import httpcore

from automation.shift.judge import Answer
from automation.verify.httpcheck import color_url, parse_color
from automation.verify.settings import HttpCheckSettings

VERSION_HEADER = b"x-crossmesh-version"
ATTEMPTS_HEADER = b"x-crossmesh-attempts"
_HTTP_OK = 200

_REQUEST_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ConnectionNotAvailable,
    httpcore.ProxyError,
    TimeoutError,
    OSError,
)


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def answer_of(
    status: int, headers: dict[bytes, str], content_type: str, body: bytes, latency_ms: float
) -> Answer:
    """One answer from front's status, headers and body (pure; the burst and the tests share it)."""
    raw_attempts = headers.get(ATTEMPTS_HEADER, "")
    attempts = int(raw_attempts) if raw_attempts.isdigit() and int(raw_attempts) > 0 else 1
    version = headers.get(VERSION_HEADER) or None
    if status != _HTTP_OK:
        return Answer(version, attempts, False, latency_ms, f"HTTP {status}")
    color = parse_color(content_type, body)
    if color is None:
        return Answer(version, attempts, False, latency_ms, "unparseable body")
    # front names the version that answered; a front without the header still has the body's color.
    return Answer(version or color, attempts, True, latency_ms)


async def sample_answers(front_url: str, settings: HttpCheckSettings) -> list[Answer]:
    url = color_url(front_url)
    remaining = settings.requests
    answers: list[Answer] = []
    timeout = dict.fromkeys(("connect", "read", "write", "pool"), settings.timeout_s)

    async def worker() -> None:
        nonlocal remaining
        async with httpcore.AsyncConnectionPool(max_connections=1) as pool:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(settings.timeout_s):
                        response = await pool.request(
                            "GET",
                            url,
                            headers=[(b"User-Agent", b"crossmesh-shift")],
                            extensions={"timeout": timeout},
                        )
                except _REQUEST_ERRORS as exc:
                    kind = (
                        "timeout"
                        if isinstance(exc, TimeoutError | httpcore.TimeoutException)
                        else "connect error"
                    )
                    answers.append(Answer(None, 1, False, 0.0, kind))
                    continue
                elapsed = (time.perf_counter() - started) * 1000.0
                headers = {
                    name: value
                    for name in (VERSION_HEADER, ATTEMPTS_HEADER)
                    if (value := _header(response, name)) is not None
                }
                content_type = _header(response, b"content-type") or ""
                answers.append(answer_of(response.status, headers, content_type, response.content, elapsed))

    await asyncio.gather(*(worker() for _ in range(min(settings.concurrency, settings.requests))))
    return answers


def sample(front_url: str, settings: HttpCheckSettings) -> list[Answer]:
    """Synchronous :func:`sample_answers` (the shift runs without an event loop)."""
    return asyncio.run(sample_answers(front_url, settings))
