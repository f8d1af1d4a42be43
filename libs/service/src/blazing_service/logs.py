"""JSON logs, one object a line, carrying the request id, the correlation id of the command or event
in hand, and the trace and span ids when a span is current."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

from blazing_contracts.context import correlation_id_var
from blazing_service.dependencies import DependencyFilter
from blazing_service.tracing import current_ids

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str | None] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id_var.get():
            entry["request_id"] = rid
        if correlation_id := correlation_id_var.get():
            entry["correlation_id"] = correlation_id
        trace_id, span_id = current_ids()
        if trace_id:
            entry["trace_id"], entry["span_id"] = trace_id, span_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, level: str = "INFO") -> None:
    """JSON lines on stdout; a dependency's outage is told once when it begins and once when it
    ends, not by every retry of its clients (``dependencies``)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(DependencyFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "aio_pika", "aiormq", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
