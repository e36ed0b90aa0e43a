"""Settings read from environment variables.

Read by every service:
    HOST, PORT                  where to listen (0.0.0.0, 8080; PORT=0 lets the kernel pick and logs it)
    WEB_CONCURRENCY             processes sharing the port (1; Kubernetes scales with replicas instead)
    SHUTDOWN_DELAY_SECONDS      after SIGTERM, keep serving this long with /healthz at 503 (0)
    DRAIN_TIMEOUT_SECONDS       then wait at most this long for requests in flight (20)
    KEEP_ALIVE_SECONDS          idle keep-alive connection lifetime (75)
    ACCESS_LOG                  one JSON line per request (true)
    LOG_LEVEL                   debug, info, warning or error (info)
    XRAY_ENABLED                send X-Ray segments (false); needs AWS_XRAY_DAEMON_ADDRESS too
    AWS_XRAY_DAEMON_ADDRESS     host:port of the X-Ray daemon (UDP), or "tcp:h:p udp:h:p"
    XRAY_APP_NAME               segment name (the service's name)
    XRAY_SAMPLE_RATE            fraction traced after the first request each second (0.05), when the
                                caller's X-Amzn-Trace-Id does not decide with Sampled=0/1

Every reader raises ``ConfigError`` with a message naming the variable, so a mistyped value stops the
process at start-up with one clear log line instead of surfacing later as odd behaviour under load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """A required variable is missing or a value cannot be used."""


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def env_required(env: Mapping[str, str], name: str, example: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set to a non-empty value (for example {name}={example})")
    return value


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    # NaN compares false with everything, so this also rejects it.
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {raw}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    if name not in env:
        return default
    raw = env[name].strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {env[name]!r}")


def split_host_port(value: str, name: str, default_port: int) -> tuple[str, int]:
    """Parse ``host:port`` (or a bare host). IPv6 literals need brackets, as in a URL authority."""
    if "://" in value or "/" in value:
        raise ConfigError(f"{name} must be host:port without a scheme or path, got {value!r}")
    host, sep, port_text = value.rpartition(":")
    if not sep or host.endswith(":"):
        # No port, or an unbracketed IPv6 literal: treat the whole value as the host.
        host, port_text = value, ""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ConfigError(f"{name} must name a host, got {value!r}")
    if not port_text:
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{name} has a port that is not a number: {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name} has a port out of range: {value!r}")
    return host, port


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str
    port: int
    workers: int
    # Seconds between SIGTERM and closing the listener, while /healthz already answers 503, so that
    # Kubernetes (and Envoy) can drop the pod from their endpoints before connections are refused.
    shutdown_delay: float
    # Upper bound on waiting for in-flight requests once the listener is closed.
    drain_timeout: float
    keep_alive: int
    access_log: bool
    log_level: str


def server_settings(env: Mapping[str, str] | None = None) -> ServerSettings:
    env = os.environ if env is None else env
    level = env_str(env, "LOG_LEVEL", "info").lower()
    if level not in {"debug", "info", "warning", "error"}:
        raise ConfigError(f"LOG_LEVEL must be one of debug, info, warning, error; got {level!r}")
    return ServerSettings(
        host=env_str(env, "HOST", "0.0.0.0"),  # noqa: S104 - a pod must listen on its own interface
        port=env_int(env, "PORT", 8080, minimum=0, maximum=65535),
        workers=env_int(env, "WEB_CONCURRENCY", 1, minimum=1, maximum=64),
        shutdown_delay=env_float(env, "SHUTDOWN_DELAY_SECONDS", 0.0, minimum=0.0, maximum=600.0),
        drain_timeout=env_float(env, "DRAIN_TIMEOUT_SECONDS", 20.0, minimum=0.1, maximum=600.0),
        # Longer than the usual 5 s so a sidecar proxy reuses its connections instead of racing
        # the server's idle close.
        keep_alive=env_int(env, "KEEP_ALIVE_SECONDS", 75, minimum=1, maximum=3600),
        access_log=env_bool(env, "ACCESS_LOG", True),
        log_level=level,
    )


@dataclass(frozen=True, slots=True)
class XRaySettings:
    # XRAY_ENABLED as given; without a daemon address nothing can be sent, which start-up reports.
    requested: bool
    # True only when segments are to be sent: XRAY_ENABLED and a daemon address are both set.
    enabled: bool
    daemon_host: str
    daemon_port: int
    service_name: str
    # Fraction of requests traced beyond the first one each second, when the caller did not decide.
    sample_rate: float


def _daemon_udp_address(raw: str) -> str:
    # The SDKs accept either "host:port" or "tcp:host:port udp:host:port"; segments go over UDP.
    for part in raw.split():
        if part.startswith("udp:"):
            return part[len("udp:") :]
    if raw.startswith("tcp:"):
        raise ConfigError(f"AWS_XRAY_DAEMON_ADDRESS has no udp: part, got {raw!r}")
    return raw


def xray_settings(service: str, env: Mapping[str, str] | None = None) -> XRaySettings:
    env = os.environ if env is None else env
    wanted = env_bool(env, "XRAY_ENABLED", False)
    raw_address = env.get("AWS_XRAY_DAEMON_ADDRESS", "").strip()
    host, port = "", 0
    if raw_address:
        host, port = split_host_port(_daemon_udp_address(raw_address), "AWS_XRAY_DAEMON_ADDRESS", 2000)
    return XRaySettings(
        requested=wanted,
        enabled=wanted and bool(raw_address),
        daemon_host=host,
        daemon_port=port,
        service_name=env_str(env, "XRAY_APP_NAME", service),
        sample_rate=env_float(env, "XRAY_SAMPLE_RATE", 0.05, minimum=0.0, maximum=1.0),
    )
