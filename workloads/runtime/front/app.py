"""front: ``GET /color`` asks colorapp (``http://$COLOR_HOST/color``) and returns its answer."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Literal

from opentelemetry.sdk.trace import TracerProvider
from pydantic import Field, field_validator, model_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from workloads.runtime.common import logs, serve, tracing, web
from workloads.runtime.common.settings import ServerSettings
from workloads.runtime.front.signing import Credentials, Signer
from workloads.runtime.front.upstream import VERSION_HEADER, Answer, ColorClient, UpstreamPolicy

NAME = "front"
ATTEMPTS_HEADER = "x-crossmesh-attempts"
log = logging.getLogger("app")


FRONT_MAX_CONNECTIONS = 128
"""front's default for ``MAX_CONNECTIONS``: every request it takes in waits for one of the 100 pooled
connections to colorapp, so taking in much more than a pool's worth only adds memory and waits that
run into the deadline; the rest wait in the kernel's backlog, which costs the process nothing.
Measured on 127.0.0.1 at 2,000 client connections for a minute (bench/apps/README.md): 1,024 in
flight held 119 MiB and answered 4 % with 502 after 3 s; 256 held 83 MiB and served 2,036 requests/s;
128 held 78 MiB and served 2,343 requests/s, no 502 at either."""


MAX_FORWARDED_ACCEPT_BYTES = 4096
"""The longest Accept front passes on to colorapp (browsers send about 100 bytes). A longer one is
refused with 431 here: passed on, with front's own signing and trace headers added to a head the
client had brought just under the 60 KiB limit, it made colorapp answer 431 and front a 502, an
upstream failure any client could cause at will, in the 5xx figures that page people."""


class FrontSettings(ServerSettings):
    max_connections: int = Field(
        default=FRONT_MAX_CONNECTIONS,
        ge=1,
        le=100_000,
        description="requests one process takes in at once; more wait in the backlog",
    )
    trace_public_endpoint: bool = Field(
        default=True,
        description="front faces the internet: a caller's trace context is linked to, not continued",
    )
    color_host: str = Field(
        default="colorapp.appmesh-demo.pvt.aws.local:8080", description="host:port of colorapp"
    )
    upstream_auth: Literal["none", "sigv4"] = Field(default="none", description="sign calls with SigV4")
    upstream_sigv4_service: str = Field(default="vpc-lattice-svcs", min_length=1)
    aws_region: str = Field(default="", description="region the signature is for (sigv4)")
    upstream_timeout_ms: int = Field(default=3000, ge=1, le=300_000, description="overall deadline of a call")
    upstream_per_try_timeout_ms: int = Field(
        default=1000, ge=1, le=300_000, description="wait for bytes, per try"
    )
    upstream_connect_timeout_ms: int = Field(default=1000, ge=1, le=60_000)
    upstream_max_retries: int = Field(
        default=2, ge=0, le=10, description="0: the mesh retries, front does not"
    )
    upstream_retry_budget_percent: float = Field(default=20.0, ge=0, le=100)
    upstream_max_connections: int = Field(default=100, ge=1, le=10_000, description="pool size to colorapp")

    @field_validator("color_host")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not (_host_name_or_address(host) and port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(
                "must be host:port without a scheme or path: a DNS name, an IPv4 address or an IPv6 "
                "address in brackets, and a port 1-65535, e.g. colorapp:8080"
            )
        return value

    @field_validator("aws_region")
    @classmethod
    def _region(cls, value: str) -> str:
        # It is part of every signature's scope: a malformed one would fail each call with a 403.
        if value and not _REGION.fullmatch(value):
            raise ValueError("expected an AWS region name such as us-east-1, or nothing")
        return value

    @model_validator(mode="after")
    def _region_for_sigv4(self) -> FrontSettings:
        if self.upstream_auth == "sigv4" and not self.aws_region:
            raise ValueError("UPSTREAM_AUTH=sigv4 needs AWS_REGION")
        return self

    def policy(self) -> UpstreamPolicy:
        return UpstreamPolicy(
            url=f"http://{self.color_host}/color",
            host=self.color_host,
            timeout=self.upstream_timeout_ms / 1000,
            per_try_timeout=self.upstream_per_try_timeout_ms / 1000,
            connect_timeout=self.upstream_connect_timeout_ms / 1000,
            max_retries=self.upstream_max_retries,
            retry_budget_percent=self.upstream_retry_budget_percent,
            max_connections=self.upstream_max_connections,
        )


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_DNS_NAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def _host_name_or_address(host: str) -> bool:
    """A DNS name (RFC 1123 labels), an IPv4 address, or an IPv6 address in brackets."""
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    return host.isascii() and _DNS_NAME.fullmatch(host) is not None


def _relay(answer: Answer, upstream: str) -> Response:
    headers = {ATTEMPTS_HEADER: str(answer.attempts)}
    if answer.version:
        headers[VERSION_HEADER] = answer.version
    if answer.content_encoding and answer.ok:
        # front never asks for an encoding, but the bytes are relayed as they came, so whatever
        # encoding they carry is named with them.
        headers["Content-Encoding"] = answer.content_encoding
    log_fields = {"upstream": upstream, "attempts": answer.attempts, "version": answer.version}
    if answer.ok:
        if answer.attempts > 1:
            log.info("upstream answered after retries", extra=log_fields)
        # colorapp's answer depends on the Accept front passes on (RFC 9110, section 12.5.5).
        headers["Vary"] = "Accept"
        return Response(
            answer.body, headers=headers, media_type=answer.content_type or "text/plain; charset=utf-8"
        )
    log.warning(
        "upstream failed",
        extra={**log_fields, "error": answer.error, "status": answer.status, "detail": answer.detail},
    )
    body: dict[str, object] = {"error": answer.error, "upstream": upstream, "attempts": answer.attempts}
    if answer.status is not None:
        body["status"] = answer.status
    return JSONResponse(body, 502, headers=headers)


def build(settings: FrontSettings, tracer_provider: TracerProvider) -> web.Service:
    policy = settings.policy()
    tracer = tracer_provider.get_tracer("crossmesh.front")
    state: dict[str, ColorClient] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None]:
        credentials: Credentials | None = None
        signer: Signer | None = None
        if settings.upstream_auth == "sigv4":
            credentials = await Credentials.from_default_chain()
            credentials.start()
            signer = Signer(credentials, settings.upstream_sigv4_service, settings.aws_region)
        client = ColorClient(policy, signer=signer, tracer=tracer)
        await client.start()
        state["client"] = client
        log.info(
            "configured",
            extra={
                "upstream": policy.url,
                "auth": settings.upstream_auth,
                "timeout_ms": settings.upstream_timeout_ms,
                "per_try_timeout_ms": settings.upstream_per_try_timeout_ms,
                "max_retries": settings.upstream_max_retries,
            },
        )
        try:
            yield
        finally:
            await client.close()
            if credentials is not None:
                await credentials.stop()

    async def color(request: Request) -> Response:
        # Accept given on several lines is one list (RFC 9110, section 5.3): passed on, and bounded, whole.
        accept = ", ".join(request.headers.getlist("accept")) or None
        if accept is not None and len(accept) > MAX_FORWARDED_ACCEPT_BYTES:
            return JSONResponse(
                {"error": f"Accept header longer than {MAX_FORWARDED_ACCEPT_BYTES} bytes"},
                431,
                headers={"Connection": "close"},
            )
        answer = await state["client"].color(accept)
        return _relay(answer, settings.color_host)

    return web.build(
        NAME,
        [Route("/color", color, methods=["GET"])],
        tracer_provider=tracer_provider,
        lifespan=lifespan,
        public_endpoint=settings.trace_public_endpoint,
    )


def create_app() -> web.Service:
    """The server's factory: runs in the serving process, so tracing and logging are set up there."""
    settings = FrontSettings()
    service = settings.otel_service_name or NAME
    logs.configure(service, settings.log_level)
    return build(settings, tracing.install(service, settings.otel_exporter_otlp_endpoint))


def main() -> int:
    return serve.main(NAME, f"{__name__}:create_app", FrontSettings)
