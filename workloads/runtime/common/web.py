"""The ASGI core shared by both services.

The services have a handful of fixed GET routes, so instead of a framework this is a dict lookup plus
the cross-cutting parts every request needs (access log, X-Ray, health while draining). Measured on
this project's benchmark, a framework router and response classes cost about a quarter of colorapp's
throughput and buy nothing for four routes.
"""

from __future__ import annotations

import functools
import json
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from workloads.runtime.common.logs import JsonLog
from workloads.runtime.common.xray import HEADER_NAME as TRACE_HEADER
from workloads.runtime.common.xray import Trace, Tracer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(slots=True)
class Request:
    method: str
    path: str
    # ASGI gives header names lower-cased, as bytes.
    headers: list[tuple[bytes, bytes]]
    trace: Trace | None = None

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def wants_json(self) -> bool:
        accept = self.header(b"accept")
        return accept is not None and prefers_json(accept)


def _no_headers() -> list[tuple[bytes, bytes]]:
    # A plain function: calling the generic alias list[...] as a factory costs several times more.
    return []


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes = TEXT
    headers: list[tuple[bytes, bytes]] = field(default_factory=_no_headers)


def text(body: str, status: int = 200) -> Response:
    return Response(status, body.encode())


def json_response(document: object, status: int = 200) -> Response:
    return Response(status, _dumps(document).encode(), JSON)


Handler = Callable[[Request], Awaitable[Response]]
Hook = Callable[[], Awaitable[None]]


def _media_ranges(accept: str) -> list[tuple[str, str, float]]:
    ranges: list[tuple[str, str, float]] = []
    for item in accept.split(","):
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


@functools.lru_cache(maxsize=512)
def prefers_json(accept: bytes) -> bool:
    """True when the Accept header ranks application/json above text/plain.

    Equal quality goes to the type named more specifically, then to the one listed first, so
    ``application/json, text/plain, */*`` (a common client default) gets JSON while ``*/*`` gets text.
    Clients send a few distinct Accept values, hence the cache.
    """
    ranges = _media_ranges(accept.decode("latin-1"))
    as_json = _rank(ranges, "application", "json")
    as_text = _rank(ranges, "text", "plain")
    return as_json[0] > 0 and as_json > as_text


class Lifecycle:
    """Shared between the server runner (which flips it on SIGTERM) and /healthz."""

    def __init__(self) -> None:
        self.draining = False


class Service:
    """An ASGI application: fixed GET routes plus /ping and /healthz, access logs and X-Ray."""

    def __init__(
        self,
        name: str,
        routes: dict[str, Handler],
        *,
        log: JsonLog,
        tracer: Tracer,
        access_log: bool = True,
        on_startup: list[Hook] | None = None,
        on_shutdown: list[Hook] | None = None,
    ) -> None:
        self.name = name
        self.log = log
        self.tracer = tracer
        self.lifecycle = Lifecycle()
        self.access_log = access_log and log.enabled("info")
        self._on_startup = on_startup or []
        self._on_shutdown = on_shutdown or []
        # Probes are neither traced nor worth a segment each; they are still access-logged.
        self._untraced = {"/healthz", "/ping"}
        self._routes: dict[str, Handler] = {"/ping": self._ping, "/healthz": self._healthz, **routes}

    async def _ping(self, request: Request) -> Response:
        return text("pong")

    async def _healthz(self, request: Request) -> Response:
        if self.lifecycle.draining:
            return json_response({"status": "draining"}, 503)
        return json_response({"status": "ok"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.tracer.start()
                    for hook in self._on_startup:
                        await hook()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self._on_shutdown:
                    try:
                        await hook()
                    except Exception as exc:  # keep shutting down the rest
                        self.log.log("error", "shutdown hook failed", error=repr(exc))
                self.tracer.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        request = Request(method, path, scope["headers"])
        handler = self._routes.get(path)
        trace = None
        if self.tracer.recording and handler is not None and path not in self._untraced:
            incoming = request.header(TRACE_HEADER)
            trace = self.tracer.begin(incoming.decode("latin-1") if incoming else None, time.time())
            request.trace = trace

        if handler is None:
            response = json_response({"error": "not found", "path": path}, 404)
        elif method not in {"GET", "HEAD"}:
            response = json_response({"error": "method not allowed"}, 405)
            response.headers.append((b"allow", b"GET, HEAD"))
        else:
            try:
                response = await handler(request)
            except Exception as exc:
                self.log.log(
                    "error",
                    "unhandled error",
                    path=path,
                    error=repr(exc),
                    exc="".join(traceback.format_exception(exc)).rstrip(),
                )
                response = json_response({"error": "internal error"}, 500)

        body = response.body
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(body)).encode()),
            *response.headers,
        ]
        if trace is not None:
            headers.append((TRACE_HEADER, trace.response_header()))
        if self.lifecycle.draining:
            # Tell keep-alive clients to reconnect, which lands them on a pod that is not going away.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

        client = scope.get("client")
        if self.access_log:
            self.log.access(
                method,
                path,
                response.status,
                (time.perf_counter() - started) * 1000,
                len(body),
                client[0] if client else None,
                trace.trace_id if trace is not None else _root_of(request),
            )
        if trace is not None and trace.sampled:
            host = request.header(b"host")
            agent = request.header(b"user-agent")
            self.tracer.finish(
                trace,
                method=method,
                url=f"http://{host.decode('latin-1') if host else self.name}{path}",
                client_ip=client[0] if client else None,
                user_agent=agent.decode("latin-1") if agent else None,
                status=response.status,
                content_length=len(body),
                end=time.time(),
            )


def _root_of(request: Request) -> str | None:
    # Without X-Ray recording the trace id is still worth logging, to join logs across services.
    header = request.header(TRACE_HEADER)
    if header is None:
        return None
    for part in header.decode("latin-1").split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "root":
            return value.strip()
    return None
