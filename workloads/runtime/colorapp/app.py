"""colorapp: ``GET /color`` and ``GET /`` answer the color from COLOR, as text or JSON."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from workloads.runtime.common import logs, serve, tracing, version, web
from workloads.runtime.common.settings import ServerSettings

NAME = "colorapp"
VERSION_HEADER = version.HEADER


class ColorSettings(ServerSettings):
    color: str = Field(default="", description="the color this version answers (required)")

    @field_validator("color")
    @classmethod
    def _required(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must be set to a non-empty value, e.g. COLOR=blue")
        # It goes into a response header as it is: no control characters, nothing outside ASCII.
        if not version.SYNTAX.fullmatch(value):
            raise ValueError(
                "expected 1-63 letters, digits, '.', '_' or '-' starting with a letter or digit "
                "(it is sent in the x-crossmesh-version header), e.g. COLOR=blue"
            )
        return value


def build(settings: ColorSettings, tracer_provider: TracerProvider) -> web.Service:
    color = settings.color
    # The body depends on Accept, so caches must key on it (RFC 9110, section 12.5.5).
    headers = {VERSION_HEADER: color, "Vary": "Accept"}
    # The answer never changes, so both responses are built once and sent as they are: a Starlette
    # Response holds its encoded body and headers and keeps no state from one send to the next.
    as_text = Response(color.encode(), media_type="text/plain; charset=utf-8", headers=headers)
    body = json.dumps({"color": color}, ensure_ascii=False).encode()
    as_json = Response(body, media_type="application/json", headers=headers)

    async def answer(request: Request) -> Response:
        accept = request.headers.get("accept")
        return as_json if accept is not None and web.prefers_json(accept) else as_text

    routes = [Route("/", answer, methods=["GET"]), Route("/color", answer, methods=["GET"])]
    return web.build(
        NAME, routes, tracer_provider=tracer_provider, public_endpoint=settings.trace_public_endpoint
    )


def create_app() -> web.Service:
    """The server's factory: runs in the serving process, so tracing and logging are set up there."""
    settings = ColorSettings()
    service = settings.otel_service_name or NAME
    logs.configure(service, settings.log_level)
    return build(settings, tracing.install(service, settings.otel_exporter_otlp_endpoint))


def main() -> int:
    return serve.main(NAME, f"{__name__}:create_app", ColorSettings)
