"""Every setting an app reads, as one typed object per app, from environment variables.

Both apps read ``ServerSettings``; each app's own settings class extends it. Names are the variables'
names (``PORT``, ``LOG_LEVEL``, ...). A bad value stops the process at start-up with exit status 2 and
one line naming the variable and what was expected (``settings_error``).
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_HEADER_BYTES = 60 * 1024
"""Request headers in total (names and values), as Envoy's default ``max_request_headers_kb``."""


class ServerSettings(BaseSettings):
    """What the server and the shared middleware read; variables named as the fields, upper case."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    host: str = Field(default="0.0.0.0", description="address to listen on")  # noqa: S104 - pods listen on their own interface
    port: int = Field(default=8080, ge=0, le=65535, description="port; 0 picks a free one and logs it")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="serving processes; one Python process runs its requests on one core at a time",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = Field(default=True, description="one JSON line per request")
    header_read_timeout_ms: int = Field(
        default=5000,
        ge=100,
        le=120_000,
        description="a client must send a whole request head within this long, and an idle keep-alive "
        "connection is closed after it (the server uses one timer for both)",
    )
    max_connections: int = Field(
        default=1024,
        ge=1,
        le=100_000,
        description="connections one process accepts at once; more wait in the backlog",
    )
    otel_service_name: str = Field(
        default="", description="service name on spans (the app's name when empty)"
    )
    otel_exporter_otlp_endpoint: str = Field(default="", description="OTLP/HTTP collector; empty: no export")
    trace_public_endpoint: bool = Field(
        default=False,
        description="callers are untrusted: a request's trace context is linked to, not continued",
    )

    @field_validator("host")
    @classmethod
    def _an_address(cls, value: str) -> str:
        # The server binds an address, and the start-up announcement connects to it.
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("expected an IP address to listen on, like 0.0.0.0 or 127.0.0.1") from None
        return value

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        # Checked here: the exporter would only fail on its first export, in the background.
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("expected an http(s)://host:port URL of the collector, or nothing")
        return value


def settings_error(exc: ValidationError) -> str:
    """One line per bad variable: ``NAME: what was expected (got 'value')``."""
    lines: list[str] = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
        got = error.get("input")
        shown = f" (got {got!r})" if error["type"] != "missing" and not isinstance(got, dict) else ""
        lines.append(f"{name}: {error['msg']}{shown}")
    return "; ".join(lines)
