"""Traces: a span per inbound request and per upstream call, linked from front to colorapp.

The first test serves both apps in this process on 127.0.0.1 (uvicorn, so spans land in the SDK's
in-memory exporter here) and makes a real HTTP call through front to colorapp. The second runs the
real processes and receives their OTLP/HTTP export as a collector would.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.workloads.servers import STOP_TIMEOUT, Launcher, unused_port
from workloads.runtime.colorapp.app import ColorSettings
from workloads.runtime.colorapp.app import build as build_colorapp
from workloads.runtime.common import tracing
from workloads.runtime.common.web import Service
from workloads.runtime.front.app import FrontSettings
from workloads.runtime.front.app import build as build_front

pytestmark = pytest.mark.network

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@contextlib.contextmanager
def serving(app: Service) -> Iterator[int]:
    """Serve an app on 127.0.0.1 in a thread of this process; yields its port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "in-process server did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def get_as_sampled_caller(port: int) -> httpx.Response:
    """``GET /color`` from a caller with its own trace context, marked sampled."""
    return httpx.get(
        f"http://127.0.0.1:{port}/color",
        headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
        timeout=10,
    )


def traced_call(
    front_settings: FrontSettings | None = None,
) -> tuple[dict[tuple[str, SpanKind], ReadableSpan], int]:
    """A real call through front to colorapp, both served here, the caller sending its own context."""
    exporter = InMemorySpanExporter()
    color = build_colorapp(
        ColorSettings(color="blue"), tracing.provider("colorapp", [SimpleSpanProcessor(exporter)])
    )
    with serving(color) as color_port:
        settings = front_settings or FrontSettings()
        front = build_front(
            settings.model_copy(update={"color_host": f"127.0.0.1:{color_port}"}),
            tracing.provider("front", [SimpleSpanProcessor(exporter)]),
        )
        with serving(front) as front_port:
            response = get_as_sampled_caller(front_port)
    assert (response.status_code, response.text) == (200, "blue")
    spans = exporter.get_finished_spans()
    return {(s.resource.attributes["service.name"], s.kind): s for s in spans}, color_port


def test_colorapp_span_is_a_child_of_fronts_call_span_across_a_real_call() -> None:
    by_role, color_port = traced_call()
    front_server = by_role["front", SpanKind.SERVER]
    front_call = by_role["front", SpanKind.CLIENT]
    color_server = by_role["colorapp", SpanKind.SERVER]

    # One trace, front's own: front (server) -> front's call -> colorapp (server).
    trace_ids = {format(s.context.trace_id, "032x") for s in (front_server, front_call, color_server)}
    assert len(trace_ids) == 1
    assert front_call.parent is not None
    assert front_call.parent.span_id == front_server.context.span_id
    assert color_server.parent is not None
    assert color_server.parent.span_id == front_call.context.span_id
    assert color_server.parent.is_remote

    # front faces the internet: the caller's context starts no trace of front's, it is linked to.
    assert trace_ids != {CALLER_TRACE}
    assert front_server.parent is None
    (link,) = front_server.links
    assert (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x")) == (
        CALLER_TRACE,
        CALLER_SPAN,
    )

    assert front_call.attributes is not None
    assert front_call.attributes["http.response.status_code"] == 200
    assert front_call.attributes["url.full"] == f"http://127.0.0.1:{color_port}/color"
    assert color_server.attributes is not None
    assert color_server.attributes["http.response.status_code"] == 200


def test_with_trusted_callers_front_continues_the_callers_trace() -> None:
    by_role, _ = traced_call(FrontSettings(trace_public_endpoint=False))
    spans = [
        by_role["front", SpanKind.SERVER],
        by_role["front", SpanKind.CLIENT],
        by_role["colorapp", SpanKind.SERVER],
    ]
    assert {format(s.context.trace_id, "032x") for s in spans} == {CALLER_TRACE}
    assert spans[0].parent is not None
    assert format(spans[0].parent.span_id, "016x") == CALLER_SPAN
    assert not spans[0].links


@pytest.mark.parametrize(("public", "recorded"), [(True, 0), (False, 2)])
def test_a_caller_cannot_make_a_public_endpoint_record_its_requests(
    monkeypatch: pytest.MonkeyPatch, public: bool, recorded: int
) -> None:
    # This service samples nothing of its own; the caller says "sampled" (-01) with a trace id of its
    # choosing. Trusted, that flag would record (and export) front's spans for every such request.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
    exporter = InMemorySpanExporter()
    front = build_front(
        FrontSettings(
            color_host=f"127.0.0.1:{unused_port()}", upstream_max_retries=0, trace_public_endpoint=public
        ),
        tracing.provider("front", [SimpleSpanProcessor(exporter)]),
    )
    with serving(front) as front_port:
        response = get_as_sampled_caller(front_port)
    assert response.status_code == 502
    assert len(exporter.get_finished_spans()) == recorded


def test_an_x_ray_trace_header_alone_continues_the_trace() -> None:
    # AWS load balancers and X-Ray callers send only X-Amzn-Trace-Id.
    exporter = InMemorySpanExporter()
    color = build_colorapp(
        ColorSettings(color="red"), tracing.provider("colorapp", [SimpleSpanProcessor(exporter)])
    )
    with serving(color) as port:
        response = httpx.get(
            f"http://127.0.0.1:{port}/color",
            headers={
                "X-Amzn-Trace-Id": f"Root=1-{CALLER_TRACE[:8]}-{CALLER_TRACE[8:]};Parent={CALLER_SPAN};Sampled=1"
            },
            timeout=10,
        )
    assert response.text == "red"
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == CALLER_TRACE
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == CALLER_SPAN


class Collector:
    """A stand-in for the ADOT collector's OTLP/HTTP receiver: records the spans posted to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, bytes, bytes, int]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            collector.spans.append((service, span.span_id, span.parent_span_id, span.kind))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def test_the_apps_export_linked_spans_over_otlp(launcher: Launcher) -> None:
    collector = Collector()
    try:
        export = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        color = launcher.start("workloads.runtime.colorapp", {"COLOR": "blue", **export})
        front = launcher.start("workloads.runtime.front", {"COLOR_HOST": f"127.0.0.1:{color.port}", **export})
        assert httpx.get(front.url("/color"), timeout=10).text == "blue"
        deadline = time.monotonic() + 10
        while len(collector.spans) < 3 and time.monotonic() < deadline:
            asyncio.run(asyncio.sleep(0.05))
    finally:
        collector.server.shutdown()
        collector.server.server_close()
    by_role = {(service, kind): (span_id, parent) for service, span_id, parent, kind in collector.spans}
    server_kind, client_kind = 2, 3  # the OTLP wire values of SPAN_KIND_SERVER and SPAN_KIND_CLIENT
    call_id, call_parent = by_role["front", client_kind]
    front_id, _ = by_role["front", server_kind]
    _, color_parent = by_role["colorapp", server_kind]
    assert call_parent == front_id
    assert color_parent == call_id


def test_a_stopping_app_sends_the_spans_it_still_holds(launcher: Launcher) -> None:
    # Every pod stop (a rollout, a scale-down, a node drain) ends the serving processes, which run no
    # exit handlers: the spans of their last seconds, still queued in the batch processor, were lost.
    collector = Collector()
    try:
        color = launcher.start(
            "workloads.runtime.colorapp",
            {
                "COLOR": "blue",
                "WORKERS": "2",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                # No scheduled export comes before SIGTERM: what arrives was sent on the way out.
                "OTEL_BSP_SCHEDULE_DELAY": "600000",
            },
        )
        for _ in range(3):
            assert httpx.get(color.url("/color"), timeout=10).text == "blue"
        color.terminate()
        assert color.wait(STOP_TIMEOUT) == 0
    finally:
        collector.server.shutdown()
        collector.server.server_close()
    assert [service for service, *_ in collector.spans] == ["colorapp"] * 3


def test_a_stopping_app_waits_a_bounded_time_for_a_collector_that_is_down(launcher: Launcher) -> None:
    # Unreachable, the exporter retries until its own timeout (set long here); the flush on the way
    # out gives up after tracing.FLUSH_SECONDS instead of holding the process's shutdown time.
    color = launcher.start(
        "workloads.runtime.colorapp",
        {
            "COLOR": "blue",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{unused_port()}",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "120",
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
        },
    )
    assert httpx.get(color.url("/color"), timeout=10).text == "blue"
    color.terminate()
    assert color.wait(tracing.FLUSH_SECONDS + 10) == 0


def test_an_unknown_method_is_recorded_as_other_and_a_long_path_is_cut() -> None:
    # OpenTelemetry's HTTP conventions: a method outside the standard ones is "_OTHER" and the span is
    # named "HTTP"; the method and the path are a client's text, as long as the head allows.
    exporter = InMemorySpanExporter()
    color = build_colorapp(
        ColorSettings(color="blue"), tracing.provider("colorapp", [SimpleSpanProcessor(exporter)])
    )
    with serving(color) as port:
        odd = httpx.request("FROBNICATE", f"http://127.0.0.1:{port}/color", timeout=10)
        long_path = httpx.get(f"http://127.0.0.1:{port}/{'a' * 5000}", timeout=10)
    assert (odd.status_code, long_path.status_code) == (405, 404)
    first, second = exporter.get_finished_spans()
    assert first.name == "HTTP"
    assert first.attributes is not None
    assert first.attributes["http.request.method"] == "_OTHER"
    assert second.name == "GET"
    assert second.attributes is not None
    assert second.attributes["url.path"] == "/" + "a" * 255 + "... (5001 characters)"


def test_the_resource_the_deployment_describes_reaches_every_span(monkeypatch: pytest.MonkeyPatch) -> None:
    # OTEL_RESOURCE_ATTRIBUTES as Kubernetes hands it to the container, $(K8S_POD_NAME) expanded
    # (workloads/deploy/manifests.py, trace_resource_env); the SDK's Resource.create reads it.
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES",
        "cloud.provider=aws,cloud.platform=aws_eks,k8s.cluster.name=eksc2-dev,k8s.pod.name=colorapp-blue-7d9-x2",
    )
    exporter = InMemorySpanExporter()
    provider = tracing.provider("colorapp-blue", [SimpleSpanProcessor(exporter)])
    provider.get_tracer("test").start_span("GET /").end()
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.resource.attributes)
    assert attributes["service.name"] == "colorapp-blue"
    assert (attributes["cloud.platform"], attributes["k8s.cluster.name"], attributes["k8s.pod.name"]) == (
        "aws_eks",
        "eksc2-dev",
        "colorapp-blue-7d9-x2",
    )
