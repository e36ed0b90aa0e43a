"""colorapp: ``GET /color`` and ``GET /`` answer the color from env COLOR, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping

from workloads.runtime.common.config import ServerSettings, XRaySettings, env_required
from workloads.runtime.common.logs import JsonLog
from workloads.runtime.common.server import main as serve_main
from workloads.runtime.common.web import JSON, TEXT, Request, Response, Service
from workloads.runtime.common.xray import Tracer

NAME = "colorapp"


def build(env: Mapping[str, str], server: ServerSettings, xray: XRaySettings, log: JsonLog) -> Service:
    color = env_required(env, "COLOR", "blue")
    # The answer never changes, so both bodies are encoded once.
    as_text = color.encode()
    as_json = json.dumps({"color": color}, ensure_ascii=False).encode()

    async def answer(request: Request) -> Response:
        if request.wants_json():
            return Response(200, as_json, JSON)
        return Response(200, as_text, TEXT)

    log.log("info", "configured", color=color, xray=xray.enabled)
    return Service(
        NAME,
        {"/": answer, "/color": answer},
        log=log,
        tracer=Tracer(xray, log),
        access_log=server.access_log,
    )


def main() -> int:
    return serve_main(NAME, build)
