"""JSON log lines carry the request id, the correlation id and the current span's trace id."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from blazing_contracts.context import correlation_id_var
from blazing_service.logs import JsonFormatter, request_id_var


def line(message: str) -> dict[str, str]:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, message, None, None)
    parsed: dict[str, str] = json.loads(JsonFormatter("svc").format(record))
    return parsed


def test_a_line_carries_request_correlation_and_trace_ids() -> None:
    assert "trace_id" not in line("outside any span")
    tracer = TracerProvider().get_tracer("test")
    request, correlation = request_id_var.set("req-1"), correlation_id_var.set("corr-1")
    try:
        with tracer.start_as_current_span("work") as span:
            entry = line("inside")
            context = span.get_span_context()
    finally:
        request_id_var.reset(request)
        correlation_id_var.reset(correlation)
    assert entry["service"] == "svc"
    assert entry["level"] == "warning"
    assert (entry["request_id"], entry["correlation_id"]) == ("req-1", "corr-1")
    assert entry["trace_id"] == format(context.trace_id, "032x")
    assert entry["span_id"] == format(context.span_id, "016x")
