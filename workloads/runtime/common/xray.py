"""A small, dependency-free AWS X-Ray emitter.

Only what the demo needs: reading and writing the ``X-Amzn-Trace-Id`` header, a sampler shaped like
X-Ray's default rule (the first request each second, then a fixed fraction), and sending one segment
per request to the daemon over UDP. A daemon datagram is a JSON header line, a newline, then the
segment document; segments of these services are a few hundred bytes, far below the UDP limit.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from workloads.runtime.common.config import XRaySettings
from workloads.runtime.common.logs import JsonLog

DAEMON_HEADER = b'{"format": "json", "version": 1}\n'
HEADER_NAME = b"x-amzn-trace-id"

_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_SEGMENT_ID = re.compile(r"[0-9a-f]{16}")
_dumps = json.JSONEncoder(separators=(",", ":")).encode
# How long to wait before retrying a daemon name that did not resolve.
_RESOLVE_RETRY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class TraceHeader:
    root: str | None = None
    parent: str | None = None
    sampled: bool | None = None


_NO_HEADER = TraceHeader()


def parse_trace_header(value: str | None) -> TraceHeader:
    """Read ``Root=...;Parent=...;Sampled=...``; malformed parts are dropped, not trusted."""
    if not value:
        return _NO_HEADER
    root = parent = None
    sampled: bool | None = None
    for part in value.split(";"):
        key, _, item = part.partition("=")
        key = key.strip().lower()
        item = item.strip()
        if key == "root" and _TRACE_ID.fullmatch(item):
            root = item
        elif key == "parent" and _SEGMENT_ID.fullmatch(item):
            parent = item
        elif key == "sampled" and item in {"0", "1"}:
            sampled = item == "1"
    return TraceHeader(root, parent, sampled)


def new_trace_id(now: float) -> str:
    return f"1-{int(now):08x}-{os.urandom(12).hex()}"


def new_id() -> str:
    return os.urandom(8).hex()


def _empty_documents() -> list[dict[str, Any]]:
    # A plain function: calling the generic alias list[...] as a factory costs several times more.
    return []


@dataclass(slots=True)
class Trace:
    """The tracing state of one request."""

    trace_id: str
    segment_id: str
    parent_id: str | None
    sampled: bool
    start: float
    subsegments: list[dict[str, Any]] = field(default_factory=_empty_documents)

    def downstream_header(self, parent_id: str) -> str:
        return f"Root={self.trace_id};Parent={parent_id};Sampled={1 if self.sampled else 0}"

    def response_header(self) -> bytes:
        return f"Root={self.trace_id};Sampled={1 if self.sampled else 0}".encode()

    def add_remote_call(
        self,
        subsegment_id: str,
        *,
        name: str,
        method: str,
        url: str,
        start: float,
        end: float,
        status: int | None,
        error: str | None,
    ) -> None:
        """Record an outgoing HTTP call; the callee's segment names ``subsegment_id`` as its parent."""
        http: dict[str, Any] = {"request": {"method": method, "url": url}}
        doc: dict[str, Any] = {
            "id": subsegment_id,
            "name": name,
            "namespace": "remote",
            "start_time": start,
            "end_time": end,
            "http": http,
        }
        if status is not None:
            http["response"] = {"status": status}
            _mark_status(doc, status)
        if error is not None:
            # No answer at all (refused, timed out) is a fault of the call, not a client error.
            doc["fault"] = True
            doc["cause"] = {"exceptions": [{"id": new_id(), "message": error, "remote": True}]}
        self.subsegments.append(doc)


def _mark_status(doc: dict[str, Any], status: int) -> None:
    if 400 <= status < 500:
        doc["error"] = True
        if status == 429:
            doc["throttle"] = True
    elif status >= 500:
        doc["fault"] = True


class Sampler:
    """The first request each second is traced, then ``rate`` of the rest (X-Ray's default rule shape)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._second = -1
        self._rng = random.Random()  # noqa: S311 - sampling, not secrecy

    def sample(self, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second = second
            return True
        return self._rng.random() < self.rate


class Emitter:
    """Sends segment documents to the daemon; tracing is best-effort, so failures are dropped."""

    def __init__(self, host: str, port: int, log: JsonLog) -> None:
        self._host = host
        self._port = port
        self._log = log
        self._sock: socket.socket | None = None
        self._addr: Any = None
        self._next_resolve = 0.0
        self._resolve()

    def _resolve(self) -> bool:
        self._next_resolve = time.monotonic() + _RESOLVE_RETRY_SECONDS
        try:
            found = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_DGRAM)
            family, kind, proto, _, addr = found[0]
        except OSError as exc:
            self._log.log(
                "warning", "xray daemon address does not resolve", daemon=self._host, error=str(exc)
            )
            return False
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        self.close()
        self._sock, self._addr = sock, addr
        return True

    def send(self, document: dict[str, Any]) -> bool:
        if self._sock is None and (time.monotonic() < self._next_resolve or not self._resolve()):
            return False
        assert self._sock is not None
        try:
            self._sock.sendto(DAEMON_HEADER + _dumps(document).encode(), self._addr)
        except OSError:
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Tracer:
    """Per-request tracing. ``recording`` is false when X-Ray is off: then nothing is created or sent."""

    def __init__(self, settings: XRaySettings, log: JsonLog) -> None:
        self.settings = settings
        self.recording = settings.enabled
        self._sampler = Sampler(settings.sample_rate)
        self._emitter: Emitter | None = None
        self._log = log

    def start(self) -> None:
        if self.recording:
            self._emitter = Emitter(self.settings.daemon_host, self.settings.daemon_port, self._log)

    def close(self) -> None:
        if self._emitter is not None:
            self._emitter.close()

    def begin(self, incoming: str | None, now: float) -> Trace:
        header = parse_trace_header(incoming)
        sampled = header.sampled if header.sampled is not None else self._sampler.sample(now)
        if header.root is None:
            # A new trace has no parent, even if a stray Parent= came along without a Root=.
            return Trace(new_trace_id(now), new_id(), None, sampled, now)
        return Trace(header.root, new_id(), header.parent, sampled, now)

    def finish(
        self,
        trace: Trace,
        *,
        method: str,
        url: str,
        client_ip: str | None,
        user_agent: str | None,
        status: int,
        content_length: int,
        end: float,
    ) -> bool:
        if not trace.sampled or self._emitter is None:
            return False
        request: dict[str, Any] = {"method": method, "url": url}
        if client_ip:
            request["client_ip"] = client_ip
        if user_agent:
            request["user_agent"] = user_agent
        doc: dict[str, Any] = {
            "name": self.settings.service_name,
            "id": trace.segment_id,
            "trace_id": trace.trace_id,
            "start_time": trace.start,
            "end_time": end,
            "http": {"request": request, "response": {"status": status, "content_length": content_length}},
        }
        if trace.parent_id is not None:
            doc["parent_id"] = trace.parent_id
        _mark_status(doc, status)
        if trace.subsegments:
            doc["subsegments"] = trace.subsegments
        return self._emitter.send(doc)
