"""Logging through the standard library, one JSON object per line on stdout (python-json-logger).

Every line has ``ts``, ``level``, ``service`` and ``msg``; ``extra={...}`` fields are added as they
are. The server's own loggers (granian's) go through the same handler, so a pod's output parses as
JSON from the first line to the last.

The access log writes a line for every request, so its cost is paid thousands of times a second.
Measured on 127.0.0.1 (bench/apps/README.md), a line formatted by the ``json`` module and written
and flushed on its own cost colorapp more than half its throughput. Three things keep it cheap:

- lines are serialized with orjson (python-json-logger's ``OrjsonFormatter``);
- records skip what no line shows: the caller's frame, thread and process names (the
  "Optimization" section of Python's logging HOWTO);
- :class:`LineBatches` collects whole lines and writes them together: at once for ``WARNING`` and
  above, otherwise when ``PIPE_BUF`` bytes are waiting or ``FLUSH_INTERVAL_SECONDS`` after the first
  (Envoy's file access log flushes every second). Each ``write(2)`` is at most ``PIPE_BUF`` bytes of
  whole lines, which a pipe writes atomically, so the lines of a pod's serving processes, which share
  the container's stdout, never interleave mid-line.
"""

from __future__ import annotations

import logging
import logging.config
import os
import select
import sys
import threading
import time
import weakref
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

PIPE_BUF = select.PIPE_BUF
"""Bytes a pipe writes atomically (4,096 on Linux); no batch is written in larger pieces."""
FLUSH_INTERVAL_SECONDS = 0.2
"""How long an ``INFO`` line may wait for others to share its write."""

# Nothing a line shows needs these; computing them is a measurable part of every record.
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
logging._srcfile = None  # pyright: ignore[reportPrivateUsage] # the HOWTO's documented switch: no caller lookup
if sys.version_info >= (3, 12):
    # The images run 3.12, where every record also looks up the current asyncio task's name.
    logging.logAsyncioTasks = False


class _Formatter(OrjsonFormatter):
    """``ts`` (ISO-8601 UTC with milliseconds), ``level`` (lower case), ``msg``, ``service``, then extras."""

    _second = -1
    _second_text = ""

    def __init__(self, service: str) -> None:
        # The fields format() must prepare (asctime, message); add_fields names them.
        super().__init__(fmt=["asctime", "levelname", "message"])
        self.service = service

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int(record.msecs):03d}Z"

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # python-json-logger's own merge of the record's extras, less its per-key rename lookups and
        # attribute checks: the names are fixed here, and a record's keys are always strings.
        log_data["ts"] = record.asctime
        log_data["level"] = record.levelname.lower()
        log_data["msg"] = record.message
        log_data["service"] = self.service
        log_data.update(message_dict)
        skip = self._skip_fields
        for key, value in record.__dict__.items():
            if key not in skip and not key.startswith("_"):
                log_data[key] = value


_LIVE: weakref.WeakSet[LineBatches] = weakref.WeakSet()
SHORTENED_CHARS = 200
"""What is kept of each long text in a line that would not fit in one atomic write."""


def _shortened(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of ``record`` whose message and text fields are cut to ``SHORTENED_CHARS``, saying so."""
    copy = logging.makeLogRecord(record.__dict__)
    copy.msg = _cut(record.getMessage())
    copy.args = None
    for key, value in record.__dict__.items():
        if isinstance(value, str) and key not in ("msg", "message") and len(value) > SHORTENED_CHARS:
            setattr(copy, key, _cut(value))
    return copy


def _cut(text: str) -> str:
    return text if len(text) <= SHORTENED_CHARS else f"{text[:SHORTENED_CHARS]}... ({len(text)} characters)"


class LineBatches(logging.Handler):
    """Writes formatted lines to a file descriptor in batches of whole lines (see the module text)."""

    def __init__(self, fd: int = 1, interval: float = FLUSH_INTERVAL_SECONDS) -> None:
        super().__init__()
        self.fd = fd
        self.interval = interval
        self._pending: list[bytes] = []
        self._size = 0
        self._due = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        _LIVE.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            if len(line) > PIPE_BUF and not record.exc_info:
                # One write of more than PIPE_BUF bytes can be split by another process's line in the
                # same pipe: the record's long texts are cut until its line fits in one atomic write.
                # A traceback is kept whole: it is the program's own text, and worth more than that.
                line = (self.format(_shortened(record)) + "\n").encode("utf-8", "backslashreplace")
        except Exception:
            self.handleError(record)
            return
        with self.lock:  # pyright: ignore[reportOptionalContextManager] # createLock() ran in __init__
            self._pending.append(line)
            self._size += len(line)
            if record.levelno >= logging.WARNING or self._size >= PIPE_BUF or self._closed:
                self._write_pending()
            elif len(self._pending) == 1:
                self._start_flusher()
                self._due.set()

    def flush(self) -> None:
        with self.lock:  # pyright: ignore[reportOptionalContextManager]
            self._write_pending()

    def close(self) -> None:
        self.flush()
        self._closed = True
        self._due.set()
        super().close()

    def _start_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(target=self._flush_when_due, name="log-flush", daemon=True)
            self._flusher.start()

    def _flush_when_due(self) -> None:
        while not self._closed:
            self._due.wait()
            self._due.clear()
            time.sleep(self.interval)
            self.flush()

    def _write_pending(self) -> None:
        batch: list[bytes] = []
        size = 0
        for line in self._pending:
            if batch and size + len(line) > PIPE_BUF:
                self._write(b"".join(batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line)
        if batch:
            self._write(b"".join(batch))
        self._pending.clear()
        self._size = 0

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            # stdout is gone (the reader closed it); nothing else can carry the line.
            pass

    def _forget_after_fork(self) -> None:
        # The parent writes what it had waiting; a forked child must not write it again, and its
        # flusher thread did not survive the fork.
        self._pending.clear()
        self._size = 0
        self._flusher = None


def _after_fork_in_child() -> None:
    for handler in list(_LIVE):
        handler._forget_after_fork()  # pyright: ignore[reportPrivateUsage] # this module's own hook


os.register_at_fork(after_in_child=_after_fork_in_child)


def logging_config(service: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document; also handed to granian for its own loggers."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": _Formatter, "service": service}},
        "handlers": {"stdout": {"()": LineBatches, "formatter": "json"}},
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            # granian's loggers: through the root handler; its access log stays off (ours has more).
            "_granian": {"handlers": [], "level": level.upper(), "propagate": True},
            "granian.access": {"handlers": [], "level": "WARNING", "propagate": True},
            # OpenTelemetry warns about a malformed traceparent or tracestate with the client's own
            # text in the line, once per request: any client could fill the warning stream with it.
            "opentelemetry.trace.span": {"handlers": [], "level": "ERROR", "propagate": True},
            "opentelemetry.trace.propagation": {"handlers": [], "level": "ERROR", "propagate": True},
        },
    }


def configure(service: str, level: str) -> None:
    logging.config.dictConfig(logging_config(service, level))


def flush() -> None:
    """Write every waiting line now (a serving process calls this as it stops)."""
    for handler in list(_LIVE):
        handler.flush()
