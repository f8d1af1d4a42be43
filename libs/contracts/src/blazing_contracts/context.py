"""The correlation id of the work in hand (an HTTP request, a command, an event), for logs: set by
whoever starts handling something, read by the log formatter. Standard library only."""

from __future__ import annotations

import contextvars

correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
