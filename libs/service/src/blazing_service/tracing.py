"""OpenTelemetry traces across HTTP, RabbitMQ and Kafka: one trace for one request.

``setup_tracing`` installs an SDK tracer provider exporting over OTLP/HTTP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; otherwise the API's
no-op provider stays and every span below costs next to nothing. Context travels as W3C
``traceparent``: in HTTP headers, in RabbitMQ message headers (CommandBus → CommandRunner), and in
Kafka record headers (stored with the outbox record when the event is written, so the relay's
publish and every consumer continue the trace that caused the event).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

_enabled = False


def setup_tracing(service: str) -> bool:
    """Installs the exporting provider once per process when an OTLP endpoint is configured."""
    global _enabled  # noqa: PLW0603 - one provider per process
    if _enabled:
        return True
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _enabled = True
    return True


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject() -> dict[str, str]:
    """The current context as headers (``traceparent``, ``tracestate``); empty when there is none."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def span(name: str, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any) -> contextlib.AbstractContextManager[Span]:
    return tracer("blazing").start_as_current_span(name, kind=kind, attributes=attributes)


def current_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the current span as hex, for logs."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
