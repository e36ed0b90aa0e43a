"""OpenTelemetry for both apps: a tracer provider, W3C trace context plus X-Ray propagation, OTLP export.

Spans go to the OTLP/HTTP endpoint in ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the cluster's AWS Distro for
OpenTelemetry collector, which sends them on to X-Ray); without it, context is still carried from
caller to callee so logs join up, and nothing is exported. Sampling is the SDK's, from
``OTEL_TRACES_SAMPLER`` (default: parent-based, always on). A serving process sends what it still
holds as it stops (``shutdown``): its exit runs no exit handlers, so the SDK's own would not.
"""

from __future__ import annotations

import threading

from opentelemetry import propagate, trace
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

FLUSH_SECONDS = 5.0
"""The most a stopping serving process waits for its last spans to be sent: the batch processor holds
up to ``OTEL_BSP_SCHEDULE_DELAY`` (5 s) of them, and with the collector down each export retries for
up to its 10 s timeout, which would otherwise eat the shutdown time the requests in flight need."""


def propagator() -> CompositePropagator:
    """W3C ``traceparent`` for OpenTelemetry, ``X-Amzn-Trace-Id`` for AWS services and X-Ray."""
    return CompositePropagator([TraceContextTextMapPropagator(), AwsXRayPropagator()])


def provider(service: str, processors: list[SpanProcessor]) -> TracerProvider:
    # X-Ray accepts only trace ids that start with the trace's epoch second; W3C callers are fine with
    # them too (https://aws-otel.github.io/docs/getting-started/python-sdk/trace-manual-instr).
    tracer_provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service}), id_generator=AwsXRayIdGenerator()
    )
    for processor in processors:
        tracer_provider.add_span_processor(processor)
    return tracer_provider


def install(service: str, otlp_endpoint: str) -> TracerProvider:
    """Set the process-wide provider and propagator; export over OTLP/HTTP when an endpoint is given."""
    processors: list[SpanProcessor] = []
    if otlp_endpoint:
        # Imported only when exporting: the exporter pulls in an HTTP client nothing else needs.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        processors.append(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces"))
        )
    tracer_provider = provider(service, processors)
    trace.set_tracer_provider(tracer_provider)
    propagate.set_global_textmap(propagator())
    return tracer_provider


def shutdown(tracer_provider: TracerProvider, timeout_seconds: float = FLUSH_SECONDS) -> bool:
    """Send the spans still queued and stop the exporter; True if that finished within the timeout.

    The SDK's own shutdown has no deadline (its batch processor waits up to 30 s), so it runs on a
    daemon thread that a process exiting after the timeout simply leaves behind.
    """
    done = threading.Event()

    def run() -> None:
        try:
            tracer_provider.shutdown()
        finally:
            done.set()

    threading.Thread(target=run, name="trace-flush", daemon=True).start()
    return done.wait(timeout_seconds)
