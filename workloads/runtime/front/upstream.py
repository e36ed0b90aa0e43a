"""front's client for colorapp: one pooled aiohttp session, deadlines, retries, a size cap, signing.

Every call has an overall deadline (``UPSTREAM_TIMEOUT_MS``); each attempt waits at most
``UPSTREAM_PER_TRY_TIMEOUT_MS`` for bytes from colorapp and ``UPSTREAM_CONNECT_TIMEOUT_MS`` to connect.
Connect errors, per-try timeouts, a connection the server dropped or reset (before or during the
answer), and 502/503/504 answers are retried (the call is a GET, idempotent) up to
``UPSTREAM_MAX_RETRIES`` times, within a retry budget, with jittered backoff. A call that waits for a
free pooled connection waits within the overall deadline and, if it never gets one, says so. Answers
larger than ``MAX_RESPONSE_BYTES`` are not relayed: front stops reading and answers 502. A failure's
``error`` is front's own short sentence, since it goes into the public 502; what aiohttp said, which can
quote the upstream's bytes, goes into ``detail`` for the log only.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import yarl
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from workloads.runtime.common import version
from workloads.runtime.common.tracing import propagator
from workloads.runtime.front.retry import RETRY_STATUSES, RetryBudget, backoff
from workloads.runtime.front.signing import Signer

log = logging.getLogger("app")

MAX_RESPONSE_BYTES = 64 * 1024
VERSION_HEADER = version.HEADER
_PROPAGATOR = propagator()


@dataclass(frozen=True)
class UpstreamPolicy:
    url: str
    host: str
    timeout: float
    per_try_timeout: float
    connect_timeout: float
    max_retries: int
    retry_budget_percent: float
    max_connections: int


@dataclass
class Answer:
    """What front relays: colorapp's answer, or a failure that becomes a 502."""

    attempts: int
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None
    content_encoding: str | None = None
    version: str | None = None
    error: str | None = None
    retryable: bool = False
    detail: str | None = None
    """For the log: the client library's own words on a failure (never sent to the caller)."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class _TooLarge(Exception):
    pass


@dataclass
class _AttemptState:
    """How long one attempt waited for a free pooled connection."""

    queued_since: float | None = None
    waited: float = 0.0

    def waited_until(self, now: float) -> float:
        return self.waited + (now - self.queued_since if self.queued_since is not None else 0.0)


class _FreshAnswers(aiohttp.TCPConnector):
    """A pool that never hands out a connection holding bytes no request asked for.

    aiohttp keeps reading a kept-alive connection while it waits in the pool, and queues any answer
    that arrives there; the next request on that connection then takes it as its own, and every later
    answer on it is one behind. A connection that received anything while idle is closed and the next
    one taken instead. Bytes that arrive in the same read as an answer close the connection already.
    """

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        # Each pass closes one spoiled connection, and a new connection has received nothing, so
        # this ends; the call's deadline bounds it in any case.
        while True:
            connection = await super().connect(req, traces, timeout)
            protocol = connection.protocol
            if protocol is None or not protocol.should_close:
                return connection
            log.warning("upstream sent bytes on an idle pooled connection, which is closed unused")
            connection.close()


class ColorClient:
    def __init__(
        self,
        policy: UpstreamPolicy,
        *,
        signer: Signer | None = None,
        tracer: trace.Tracer | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.signer = signer
        self.tracer = tracer or trace.get_tracer("crossmesh.front")
        self.budget = RetryBudget(policy.retry_budget_percent)
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter, nothing secret
        self._session: aiohttp.ClientSession | None = None
        # One slot per pooled connection: a call holds one from before it asks the pool until its
        # connection is back, so waiting for a slot is exactly waiting for a free connection, and the
        # wait is known without aiohttp's tracing signals (a dozen awaits on every call).
        self._slots = asyncio.Semaphore(policy.max_connections)
        # Parsed once: aiohttp would parse the text again on every call.
        self._url = yarl.URL(policy.url)

    async def start(self) -> None:
        p = self.policy
        self._session = aiohttp.ClientSession(
            connector=_FreshAnswers(limit=p.max_connections, ttl_dns_cache=10),
            # The overall deadline bounds the wait for a pooled connection; per attempt, connecting and
            # each wait for bytes have their own bounds.
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=p.connect_timeout, sock_read=p.per_try_timeout
            ),
            # front relays colorapp's bytes as they come (no decompression), so it must not ask for
            # a compressed answer: aiohttp's default ``Accept-Encoding: gzip, deflate`` would let an
            # upstream send gzip that front then relays without its Content-Encoding.
            auto_decompress=False,
            skip_auto_headers=(aiohttp.hdrs.ACCEPT_ENCODING,),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        # aiohttp sends a GET again, once, when the connection drops or resets, outside every count
        # here: a broken upstream then got twice the attempts the policy allows, past the retry budget,
        # and with UPSTREAM_MAX_RETRIES=0 under Envoy's retries the retries multiplied after all. Off,
        # so every request on the wire is one of front's attempts. aiohttp has no public switch; its
        # own test client turns this one off the same way.
        self._session._retry_connection = False  # pyright: ignore[reportPrivateUsage] # see above

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def color(self, accept: str | None) -> Answer:
        """GET colorapp's /color with retries; never raises for upstream trouble."""
        p = self.policy
        self.budget.record_request()
        deadline = time.monotonic() + p.timeout
        attempts = 0
        answer = Answer(attempts=0, error="no attempt")
        while True:
            attempts += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                answer = Answer(attempts=attempts - 1, error=f"timed out after {p.timeout * 1000:g} ms")
                break
            answer = await self._attempt(accept, attempts, remaining)
            if answer.ok or not answer.retryable or attempts > p.max_retries:
                break
            pause = backoff(attempts, self._rng)
            if time.monotonic() + pause >= deadline or not self.budget.try_spend():
                break
            await asyncio.sleep(pause)
        return answer

    async def _attempt(self, accept: str | None, attempt: int, remaining: float) -> Answer:
        p = self.policy
        state = _AttemptState()
        # Nothing runs under this span but the call itself, so it is never made current: its context
        # goes straight into the trace headers.
        span = self.tracer.start_span(
            f"GET {p.host}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "GET",
                "url.full": p.url,
                "http.request.resend_count": attempt - 1,
            },
        )
        try:
            headers: dict[str, str] = {}
            if accept is not None:
                headers["Accept"] = accept
            if self.signer is not None:
                headers = self.signer.sign("GET", p.url, headers)
            # Trace context goes on after signing: it changes on every call and is not signed.
            _PROPAGATOR.inject(headers, context=trace.set_span_in_context(span))
            answer = await self._send(headers, state, attempt, remaining)
            if answer.status is not None:
                span.set_attribute("http.response.status_code", answer.status)
            if not answer.ok:
                span.set_status(Status(StatusCode.ERROR, answer.error))
            return answer
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()

    async def _take_slot(self, state: _AttemptState) -> None:
        """Wait for a free pooled connection, recording the wait (a timeout may end it)."""
        if not self._slots.locked():
            await self._slots.acquire()
            return
        state.queued_since = time.monotonic()
        await self._slots.acquire()
        state.waited += time.monotonic() - state.queued_since
        state.queued_since = None

    async def _send(
        self, headers: dict[str, str], state: _AttemptState, attempt: int, remaining: float
    ) -> Answer:
        p = self.policy
        if self._session is None:
            raise RuntimeError("ColorClient.start() was not called")
        try:
            async with asyncio.timeout(remaining):
                await self._take_slot(state)
                try:
                    call = self._session.get(self._url, headers=headers, allow_redirects=False)
                    async with call as response:
                        body = await _read_capped(response)
                        status = response.status
                        ok = 200 <= status < 300
                        # A failed answer is not relayed: its status decides (and whether to retry),
                        # and a version it names is kept only when valid.
                        relayed = _unrelayable_header(response.headers) if ok else None
                        if relayed is not None:
                            name, value = relayed
                            return Answer(
                                attempts=attempt,
                                error=f"upstream answer has an invalid {name} header",
                                detail=_shortened(f"{name}: {value!r}"),
                            )
                        answer = Answer(
                            attempts=attempt,
                            status=status,
                            body=body,
                            content_type=response.headers.get("Content-Type"),
                            content_encoding=response.headers.get("Content-Encoding"),
                            version=_valid_version(response.headers.get(VERSION_HEADER)),
                        )
                        if not ok:
                            answer.error = f"upstream answered {status}"
                            answer.retryable = status in RETRY_STATUSES
                        return answer
                finally:
                    self._slots.release()
        except _TooLarge:
            return Answer(attempts=attempt, error=f"upstream answer larger than {MAX_RESPONSE_BYTES} bytes")
        except TimeoutError as exc:
            # Waiting for a pooled connection counts against the overall deadline; say so, rather
            # than blame the network, when that is where the time went.
            if state.queued_since is not None:
                return Answer(
                    attempts=attempt,
                    error=f"no free upstream connection within {p.timeout * 1000:g} ms "
                    f"(all {p.max_connections} in use)",
                )
            waited = state.waited_until(time.monotonic())
            if waited >= 0.001 and not isinstance(exc, aiohttp.ServerTimeoutError):
                return Answer(
                    attempts=attempt,
                    error=f"timed out after {p.timeout * 1000:g} ms, {waited * 1000:.0f} ms of it waiting "
                    f"for a free upstream connection (all {p.max_connections} in use)",
                )
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                return Answer(
                    attempts=attempt,
                    error=f"connect timed out after {p.connect_timeout * 1000:g} ms",
                    retryable=True,
                )
            if isinstance(exc, aiohttp.SocketTimeoutError):
                return Answer(
                    attempts=attempt,
                    error=f"no answer within the per-try timeout of {p.per_try_timeout * 1000:g} ms",
                    retryable=True,
                )
            return Answer(attempts=attempt, error=f"timed out after {p.timeout * 1000:g} ms")
        except aiohttp.ClientError as exc:
            return client_failure(exc, attempt)


def client_failure(exc: aiohttp.ClientError, attempt: int) -> Answer:
    """What a failed attempt reports, for each way the connection or the answer can go wrong."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Answer(
            attempts=attempt, error=f"cannot connect: {exc.os_error.strerror or exc.os_error}", retryable=True
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Answer(attempts=attempt, error="upstream closed the connection", retryable=True)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return Answer(
            attempts=attempt, error="upstream answer was cut short", retryable=True, detail=_detail(exc)
        )
    if isinstance(exc, ConnectionResetError) or (
        isinstance(exc, aiohttp.ClientOSError) and exc.errno in _RESET_ERRNOS
    ):
        return Answer(
            attempts=attempt, error="upstream reset the connection", retryable=True, detail=_detail(exc)
        )
    if isinstance(exc, aiohttp.ClientOSError):
        return Answer(attempts=attempt, error="connection to upstream failed", detail=_detail(exc))
    if isinstance(exc, aiohttp.ClientResponseError):
        # The parser's refusals: a bad status line, a header line past 8190 bytes, too many headers.
        return Answer(attempts=attempt, error="upstream answer is not valid HTTP/1.1", detail=_detail(exc))
    return Answer(attempts=attempt, error=f"upstream call failed ({type(exc).__name__})", detail=_detail(exc))


_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})
DETAIL_CHARS = 300


def _detail(exc: BaseException) -> str:
    """The library's message for the log, shortened: it can quote whatever bytes the upstream sent."""
    return _shortened(f"{type(exc).__name__}: {exc}")


def _shortened(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


_FIELD_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?")
"""A header value front passes on: visible ASCII, with spaces and tabs only between words. The server
cannot send a control character or a character outside Latin-1 at all."""


def _valid_version(value: str | None) -> str | None:
    return value if value and version.SYNTAX.fullmatch(value) else None


def _unrelayable_header(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The first header of an answer front relays whose value it must not pass on: (name, value).

    The version is colorapp's COLOR, whose syntax both apps share; the media type and encoding can
    only be visible ASCII. aiohttp hands values over decoded as UTF-8, so anything the upstream sent
    reaches here as text.
    """
    version_value = headers.get(VERSION_HEADER)
    if version_value and not version.SYNTAX.fullmatch(version_value):
        return VERSION_HEADER, version_value
    for name in ("content-type", "content-encoding"):
        value = headers.get(name)
        if value and not _FIELD_VALUE.fullmatch(value):
            return name, value
    return None


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    length = response.content_length
    if length is not None:
        if length > MAX_RESPONSE_BYTES:
            raise _TooLarge
        # A declared length within the cap: aiohttp reads exactly that many bytes, in one await.
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.read(MAX_RESPONSE_BYTES + 1 - size):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
