"""One JSON object per line on stdout.

Access logs run on every request, so the writer avoids the stdlib logging machinery on that path and
batches the lines produced during one event-loop iteration into a single write: under load that is
one syscall for many requests, and when idle a line still leaves within the same iteration.
"""

from __future__ import annotations

import asyncio
import json
import json.encoder
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
# The C string escaper behind json.dumps: quotes and escapes one str, about a tenth of a dumps() call.
_quote: Callable[[str], str] = json.encoder.encode_basestring


def _quote_or_null(value: str | None) -> str:
    return "null" if value is None else _quote(value)


class JsonLog:
    def __init__(self, service: str, level: str = "info", fd: int | None = None) -> None:
        self.service = service
        self.threshold = LEVELS[level]
        self._fd = sys.stdout.fileno() if fd is None else fd
        self._pending: list[str] = []
        self._flush_scheduled = False
        self._ts_second = -1
        self._ts_prefix = ""

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.threshold

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._ts_second:
            # Formatting the date part once a second keeps the per-line cost to one f-string.
            self._ts_second = second
            self._ts_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._ts_prefix}.{int((now - second) * 1000):03d}Z"

    def log(self, level: str, msg: str, **fields: Any) -> None:
        if LEVELS[level] < self.threshold:
            return
        record: dict[str, Any] = {
            "ts": self._timestamp(time.time()),
            "level": level,
            "service": self.service,
            "msg": msg,
        }
        record.update(fields)
        self._emit(_dumps(record))

    def access(  # noqa: PLR0917 - called once per request; positional keeps it cheap
        self,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        size: int,
        client: str | None,
        trace_id: str | None,
    ) -> None:
        """The per-request line, assembled directly: the same JSON as ``log`` at a third of the cost."""
        if self.threshold > LEVELS["info"]:
            return
        self._emit(
            f'{{"ts":"{self._timestamp(time.time())}","level":"info","service":{_quote(self.service)},'
            f'"msg":"request","method":{_quote(method)},"path":{_quote(path)},"status":{status:d},'
            f'"duration_ms":{duration_ms:.3f},"bytes":{size:d},"client":{_quote_or_null(client)},'
            f'"trace_id":{_quote_or_null(trace_id)}}}'
        )

    def _emit(self, line: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._pending.append(line)
            self.flush()
            return
        self._pending.append(line)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        data = ("\n".join(self._pending) + "\n").encode()
        self._pending.clear()
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            # A closed or broken stdout must not take the server down with it; the lines are lost.
            pass


class _StdlibBridge(logging.Handler):
    """Sends records from libraries (uvicorn, asyncio) through the same JSON writer."""

    def __init__(self, log: JsonLog) -> None:
        super().__init__()
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        level = "debug" if record.levelno < 20 else "info" if record.levelno < 30 else "warning"
        if record.levelno >= 40:
            level = "error"
        fields: dict[str, Any] = {"logger": record.name}
        if record.exc_info and record.exc_info[1] is not None:
            fields["exc"] = "".join(traceback.format_exception(record.exc_info[1])).rstrip()
        try:
            self._log.log(level, record.getMessage(), **fields)
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


def install_stdlib_bridge(log: JsonLog, level: str) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_StdlibBridge(log))
    root.setLevel(LEVELS[level])
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Access lines come from our own middleware, in our own format.
    logging.getLogger("uvicorn.access").disabled = True
