"""Logging through the standard library, one JSON object per line on stdout (python-json-logger).

Every line has ``ts``, ``level``, ``service`` and ``msg``; ``extra={...}`` fields are added as they
are. The server's own loggers (granian's) go through the same handler, so a pod's output parses as
JSON from the first line to the last.
"""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter


class _Formatter(JsonFormatter):
    """ISO-8601 UTC timestamps with milliseconds, and the level in lower case."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{seconds}.{int(record.msecs):03d}Z"

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        log_data["level"] = str(log_data.get("level", "")).lower()
        return log_data


def logging_config(service: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document; also handed to granian for its own loggers."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": _Formatter,
                "fmt": ["asctime", "levelname", "message"],
                "rename_fields": {"asctime": "ts", "levelname": "level", "message": "msg"},
                "static_fields": {"service": service},
                "json_ensure_ascii": False,
            }
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            # granian's loggers: through the root handler; its access log stays off (ours has more).
            "_granian": {"handlers": [], "level": level.upper(), "propagate": True},
            "granian.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def configure(service: str, level: str) -> None:
    logging.config.dictConfig(logging_config(service, level))
