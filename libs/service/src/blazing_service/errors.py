"""The API's error shapes (SPEC §4) and the handlers that make every failure one of them.

Success: ``{"status":"success","message":…, …data}``; error: ``{"status":"error","message":…}``;
validation: ``{"status":"error","message":"Validation failed","errors":{"field":["msg",…]}}`` (400).
Nothing reaches a client as a bare framework error or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from blazing_app import errors as app
from blazing_service.dependencies import outage_of

log = logging.getLogger(__name__)

# A use case raises blazing_app's errors (no protocol in it); this module gives each its status in
# one place. The HTTP layer still raises a few of them under the names it has always used:
FieldErrors = app.FieldErrors
BadRequest = app.BadInput
ValidationFailed = app.Invalid
Unauthorized = app.Unauthenticated
Forbidden = app.Forbidden


class PayloadTooLarge(app.BadInput):
    message = "Request body too large"


class UnsupportedMediaType(app.BadInput):
    message = "Content-Type must be application/json"


STATUS: dict[type[app.ApplicationError], int] = {
    app.ApplicationError: 400,
    app.BadInput: 400,
    app.Unauthenticated: 401,
    app.Forbidden: 403,
    app.NotFound: 404,
    app.Conflict: 409,
    app.Stale: 412,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    app.Refused: 422,
    app.Throttled: 429,
    app.Unavailable: 503,
}


def status_of(exc: app.ApplicationError) -> int:
    """The HTTP status of an application error: its nearest class in ``STATUS``."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def body_of(exc: app.ApplicationError) -> dict[str, Any]:
    """The API's one error shape, with the field errors of a validation failure."""
    return {"status": "error", "message": exc.message, **exc.details()}


def headers_of(exc: app.ApplicationError) -> dict[str, str] | None:
    if isinstance(exc, app.Throttled):
        return {"Retry-After": str(exc.retry_after)}
    return None


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def api_error_handler(_: Request[Any, Any, Any], exc: app.ApplicationError) -> Response[Any]:
    return _json(status_of(exc), body_of(exc), headers_of(exc))


_HTTP_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        return _json(400, body_of(ValidationFailed(litestar_field_errors(exc, wire_names(request)))))
    status = exc.status_code
    if status >= 500:
        log.error("server error: %s", exc.detail)
        return _json(status, {"status": "error", "message": "Internal server error"})
    message = _HTTP_MESSAGES.get(status, exc.detail or "Error")
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in {"allow", "retry-after"}}
    return _json(status, {"status": "error", "message": message}, headers)


def unhandled_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if outage_of(exc) is not None:
        # a dependency is away (its outage is logged once by blazing_service.dependencies): the
        # request may succeed in a moment, which is what 503 + Retry-After tells the client
        return _json(503, {"status": "error", "message": "Service unavailable, try again"}, {"Retry-After": "2"})
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(HTTP_500_INTERNAL_SERVER_ERROR, {"status": "error", "message": "Internal server error"})


def wire_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Handler argument → the name the client sends (``date_from`` → ``from``), so that a field error
    names the query parameter, header or cookie as the client wrote it."""
    try:
        parameters = request.route_handler.parsed_fn_signature.parameters
    except Exception:  # no route matched (a 404 / 405 has no handler)
        return {}
    names = {}
    for name, parameter in parameters.items():
        definition = parameter.kwarg_definition
        alias = next(
            (getattr(definition, a, None) for a in ("query", "header", "cookie") if getattr(definition, a, None)), None
        )
        if alias:
            names[name] = alias
    return names


def litestar_field_errors(exc: ValidationException, names: dict[str, str] | None = None) -> FieldErrors:
    errors: FieldErrors = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key", "request"))
            errors.setdefault((names or {}).get(key, key), []).append(str(item.get("message", "invalid")))
    return errors or {"request": [str(exc.detail)]}


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    app.ApplicationError: api_error_handler,
    HTTPException: http_exception_handler,
    Exception: unhandled_exception_handler,
}
