"""What both apps share around their Starlette routes: limits, drain, health, access log and a span.

``build`` returns the ASGI application the server runs:

- request heads over ``MAX_HEADER_BYTES`` (names plus values) get 431 before any route runs; the
  server's own buffer (a little larger) bounds what is read at all;
- ``GET /ping`` (liveness) and ``GET /healthz`` (readiness: 503 once draining);
- ``POST /drain``, from the pod itself only (loopback, with the key in ``drain``): the pod's preStop
  hook calls it, after which readiness fails and every response carries ``Connection: close`` so
  keep-alive clients move to another pod, in every serving process of the pod
  (``drain.DrainState``); SIGTERM later lets requests in flight finish (the server does that);
- a request body sent to a route that takes none is never read: the answer closes the connection;
- two Host lines, or a Host that is not ``host[:port]``, get 400 (RFC 9112, section 3.2);
- a client's method and path are cut to ``MAX_ECHOED_CHARS`` wherever they are echoed (404, log, span);
- one span (kind SERVER, context from ``traceparent`` or ``X-Amzn-Trace-Id``) and one access-log
  line per request. On a public endpoint (front: ``TRACE_PUBLIC_ENDPOINT``, on by default) the
  caller's context is untrusted: the span starts a trace of its own, sampled by this service's own
  rule, with a link to the caller's span, as OpenTelemetry advises for public endpoints
  (https://opentelemetry.io/docs/specs/otel/overview/#links-between-spans). Continuing it would let
  any client choose the trace id and set the sampled flag, so every request it sends is recorded and
  exported to X-Ray, at the account's expense.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import ipaddress
import logging
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from workloads.runtime.common import logs, tracing
from workloads.runtime.common.drain import KEY_HEADER, DrainState
from workloads.runtime.common.settings import MAX_HEADER_BYTES
from workloads.runtime.common.tracing import propagator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]

access_log = logging.getLogger("access")
log = logging.getLogger("app")
_PROPAGATOR = propagator()


def is_loopback(client: str | None) -> bool:
    """Whether a peer address is this host's own: ``127.0.0.0/8``, ``::1``, or ``127.x`` as an
    IPv6-mapped address, which is how a call to 127.0.0.1 arrives when the server listens on ``::``."""
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class _HeaderGetter(Getter[dict[str, str]]):
    """Reads ASGI headers (lower-cased names) for propagators that ask in any case (X-Amzn-Trace-Id)."""

    def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
        value = carrier.get(key.lower())
        return [value] if value is not None else None

    def keys(self, carrier: dict[str, str]) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()
_NO_PARENT = Context()
"""A request without trace headers starts a new trace (what the propagators return for one)."""


MAX_MEDIA_RANGES = 32
"""Media ranges of an Accept header that are looked at; real clients send a handful. The rest is
ignored unscanned, so a hostile header costs microseconds, not tens of milliseconds of the loop."""


def _media_ranges(accept: str) -> list[tuple[str, str, float]]:
    ranges: list[tuple[str, str, float]] = []
    for item in accept.split(",", MAX_MEDIA_RANGES)[:MAX_MEDIA_RANGES]:
        media, *params = item.split(";")
        kind, _, subtype = media.strip().lower().partition("/")
        if not kind or not subtype:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((kind, subtype, q))
    return ranges


def _rank(ranges: list[tuple[str, str, float]], kind: str, subtype: str) -> tuple[float, int, int]:
    """(q, specificity, -position) of the most specific range that matches ``kind/subtype``."""
    best: tuple[float, int, int] = (0.0, -1, 0)
    for position, (r_kind, r_subtype, q) in enumerate(ranges):
        if r_kind == kind and r_subtype == subtype:
            specificity = 2
        elif r_kind == kind and r_subtype == "*":
            specificity = 1
        elif r_kind == "*" and r_subtype == "*":
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (q, specificity, -position)
    return best


CACHED_ACCEPT_CHARS = 256
"""Accept values up to this long have their answers kept (browsers send about 100 characters); a
longer one is worked out each time, so a client sending long distinct values cannot make a process
hold up to 60 KiB per kept answer."""


def prefers_json(accept: str) -> bool:
    """True when the Accept header ranks application/json above text/plain.

    Equal quality goes to the type named more specifically, then to the one listed first, so
    ``application/json, text/plain, */*`` gets JSON while ``*/*`` gets text. Only the first
    ``MAX_MEDIA_RANGES`` ranges count.
    """
    return _prefers_json_kept(accept) if len(accept) <= CACHED_ACCEPT_CHARS else _prefers_json(accept)


def _prefers_json(accept: str) -> bool:
    ranges = _media_ranges(accept)
    as_json = _rank(ranges, "application", "json")
    as_text = _rank(ranges, "text", "plain")
    return as_json[0] > 0 and as_json > as_text


_prefers_json_kept = functools.lru_cache(maxsize=256)(_prefers_json)


def header_bytes(headers: Sequence[tuple[bytes, bytes]]) -> int:
    """Size of a request's headers as Envoy counts it for its limit: names plus values."""
    return sum(len(name) + len(value) for name, value in headers)


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"x-amzn-trace-id"})
"""What the propagators read (W3C trace context and X-Ray); no other header is decoded."""


# RFC 9110, section 4.2.3 and RFC 3986: an authority is a host (an IP literal in brackets, or a name
# of unreserved, percent-encoded and sub-delimiter characters) and an optional port.
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]*)(:[0-9]*)?")


def _read_head(headers: Sequence[tuple[bytes, bytes]]) -> tuple[bool, dict[str, str], bool, str | None]:
    """In one pass: whether the request has a body, its trace headers as text, whether it has exactly
    one valid Host, and its X-Forwarded-For."""
    has_body = False
    carrier: dict[str, str] = {}
    hosts = 0
    host_ok = False
    forwarded: str | None = None
    for name, value in headers:
        if name in _TRACE_HEADERS:
            carrier[name.decode("latin-1")] = value.decode("latin-1")
        elif name == b"host":
            hosts += 1
            host_ok = _HOST.fullmatch(value) is not None
        elif name == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
        elif name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in {b"", b"0"}):
            has_body = True
    return has_body, carrier, hosts == 1 and host_ok, forwarded


class Service:
    """The ASGI callable: limits and observation around a Starlette app."""

    def __init__(
        self,
        name: str,
        inner: ASGIApp,
        drain: DrainState,
        tracer_provider: TracerProvider,
        *,
        public_endpoint: bool = False,
    ) -> None:
        self.name = name
        self.public_endpoint = public_endpoint
        self.inner = inner
        self.drain = drain
        self.tracer = tracer_provider.get_tracer(f"crossmesh.{name}")
        self.access_enabled = access_log.isEnabledFor(logging.INFO)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if header_bytes(headers) > MAX_HEADER_BYTES:
            await _plain(send, 431, b"request headers too large\n")
            self._access(scope, 431, 0.0, None)
            return
        started = time.perf_counter()
        has_body, carrier, one_host, forwarded = _read_head(headers)
        if not one_host and scope.get("http_version") != "1.0":
            # RFC 9112, section 3.2: a server MUST answer 400 to a request with more than one Host, or
            # with one that is not a valid host[:port]. One that sent none reaches the app with an
            # empty Host (granian fills it in), which is served: health checkers may leave it out.
            await _plain(send, 400, b"expected exactly one valid Host header\n")
            self._access(scope, 400, 0.0, None)
            return
        close = has_body or self.drain.draining
        parent = _PROPAGATOR.extract(carrier, getter=_GETTER) if carrier else _NO_PARENT
        links: list[Link] | None = None
        if self.public_endpoint and carrier:
            caller = trace.get_current_span(parent).get_span_context()
            links = [Link(caller)] if caller.is_valid else None
            parent = _NO_PARENT
        method: str = scope["method"]
        path: str = scope["path"]
        status = 500
        # OpenTelemetry's HTTP conventions: a method outside the standard ones is recorded as _OTHER
        # and names the span "HTTP"; any method is a client's choice, up to the whole head in size.
        known = method in _KNOWN_METHODS
        span = self.tracer.start_span(
            (f"{method} {path}" if path in _KNOWN_PATHS else method) if known else "HTTP",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method if known else "_OTHER",
                "url.path": _bounded(path),
                "server.address": self.name,
            },
            links=links,
        )
        # The span is current while the route runs, so front's client span is its child; attached
        # and detached here rather than through start_as_current_span's two context managers, which
        # cost more than the rest of the span on every request.
        token = context.attach(trace.set_span_in_context(span, parent))

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if close:
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        try:
            await self.inner(scope, receive, send_observed)
        except Exception as exc:
            # Starlette has already answered 500; the traceback goes to the log, not the server.
            log.exception("unhandled error", extra={"path": path})
            span.record_exception(exc)
            status = 500
        finally:
            context.detach(token)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        self._access(
            scope, status, (time.perf_counter() - started) * 1000, span, links=links, forwarded=forwarded
        )

    def _access(
        self,
        scope: Scope,
        status: int,
        duration_ms: float,
        span: Span | None,
        *,
        links: list[Link] | None = None,
        forwarded: str | None = None,
    ) -> None:
        if not self.access_enabled:
            return
        trace_id = format(span.get_span_context().trace_id, "032x") if span is not None else None
        client = scope.get("client")
        fields: dict[str, object] = {
            "method": _bounded(scope["method"]),
            "path": _bounded(scope["path"]),
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "client": client[0] if client else None,
            "trace_id": trace_id,
        }
        if links:
            # The caller's own trace, which this one links to: how its owner finds this request.
            fields["caller_trace_id"] = format(links[0].context.trace_id, "032x")
        if forwarded is not None:
            # Behind front's load balancer (an HTTP proxy), ``client`` is the load balancer; the last
            # address here is the client it saw, any before it are the client's own claims.
            fields["forwarded_for"] = _bounded(forwarded)
        access_log.info("request", extra=fields)


_KNOWN_PATHS = frozenset({"/", "/color", "/ping", "/healthz", "/drain"})
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})

MAX_ECHOED_CHARS = 256
"""The most of a client's method or path that goes into a log line or an answer: the server takes
paths of up to 64 KiB, and a line over 4 KiB is no longer written to the pod's stdout in one piece."""


def _bounded(text: str) -> str:
    """A client's text cut to ``MAX_ECHOED_CHARS``, with how long it was."""
    if len(text) > MAX_ECHOED_CHARS:
        return f"{text[:MAX_ECHOED_CHARS]}... ({len(text)} characters)"
    return text


def _freeze_startup_objects() -> None:
    """Leave what start-up built (modules, clients, settings) out of every garbage collection.

    A full collection walks every object the process holds, most of them the libraries' own and alive
    until exit; under load those walks were the slowest requests. Measured on 127.0.0.1 with front at
    50 connections (bench/apps/README.md), ``gc.freeze()`` halved its p99 latency.
    """
    gc.collect()
    gc.freeze()


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "not found", "path": _bounded(request.url.path)}, 404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    given = exc.headers.get("Allow", "") if isinstance(exc, HTTPException) and exc.headers else ""
    # Starlette lists the methods in set order; a stable order is kinder to clients and caches.
    allow = ", ".join(sorted(m.strip() for m in given.split(",") if m.strip()))
    return JSONResponse({"error": "method not allowed"}, 405, headers={"Allow": allow} if allow else None)


def build(
    name: str,
    routes: Sequence[BaseRoute],
    *,
    tracer_provider: TracerProvider,
    lifespan: Lifespan | None = None,
    drain_state: DrainState | None = None,
    public_endpoint: bool = False,
) -> Service:
    state = drain_state or DrainState.from_environment()

    @asynccontextmanager
    async def lifespan_then_flush(app: Starlette) -> AsyncGenerator[None]:
        # A serving process ends without running exit handlers, so the spans still queued for export
        # and the lines still waiting in the log handler are sent here, as the server stops (spans
        # first: a failed export logs a line).
        try:
            async with lifespan(app) if lifespan is not None else contextlib.nullcontext():
                _freeze_startup_objects()
                yield
        finally:
            try:
                await asyncio.to_thread(tracing.shutdown, tracer_provider)
            finally:
                logs.flush()

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    async def healthz(request: Request) -> Response:
        if state.draining:
            return JSONResponse({"status": "draining"}, 503)
        return JSONResponse({"status": "ok"})

    async def drain(request: Request) -> Response:
        # Loopback and the supervisor's key: a proxy in the pod sends outside calls from loopback.
        if not is_loopback(request.client.host if request.client else None) or not state.admits(
            request.headers.get(KEY_HEADER)
        ):
            return JSONResponse({"error": "drain is for the pod itself"}, 403)
        if state.drain():
            log.info("draining: readiness fails and connections close after each response")
        return JSONResponse({"status": "draining"})

    app = Starlette(
        routes=[
            *routes,
            Route("/ping", ping, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/drain", drain, methods=["POST"]),
        ],
        lifespan=lifespan_then_flush,
        exception_handlers={404: _not_found, 405: _not_allowed},
    )
    # The paths are fixed, so ``/color/`` is simply not found. Starlette would otherwise answer 307
    # with a Location built from the client's own Host header: a redirect to any host a caller names.
    app.router.redirect_slashes = False
    return Service(name, app, state, tracer_provider, public_endpoint=public_endpoint)
