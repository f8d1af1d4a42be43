"""What the gateway accepts of a request line and its headers, decided before routing and rate
limiting (SPEC §11, #17): one canonical path for every spelling of it, and a clear refusal for
bytes that different decoders would read differently.

The path is percent-decoded once as UTF-8, dot segments are resolved and repeated slashes merged —
what nginx matches its locations on, so that the gateway routes, limits and forwards exactly the
path nginx saw. Refused (400): an encoded slash or backslash (``%2f``, ``%5c``) and a backslash,
a ``%`` left after decoding (double encoding, ``%252e``, or a broken escape), ``;`` (path
parameters some servers strip), a segment ending in a dot (``metrics.``, ``...``), control
characters (C0, DEL, C1; NUL included) and escapes that are not UTF-8 (overlong ``%c0%ae``, stray
``%ff``)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

INTERNAL = ("/metrics", "/ready", "/schema")
"""The gateway's and every service's endpoints for operators (Prometheus, readiness probes, the raw
OpenAPI): never answered to a request that came through nginx."""

REQUEST_ID_MAX = 128
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SINGLE_HEADERS = (
    b"authorization",
    b"host",
    b"content-length",
    b"content-type",
    b"x-real-ip",
    b"x-forwarded-proto",
    b"idempotency-key",
)
"""Headers a request may carry once: two of them would let two readers see two different values
(two Idempotency-Keys: the ledger kept the first, a client or proxy may count on the last)."""

_PATH_SAFE = "/!$&'()*+,:=@-._~"  # RFC 3986 pchar without percent-encoding, plus the slash
# every printable ASCII character but "%" itself stays as the client wrote it in a query
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "%")


class Refused(Exception):
    """The request cannot be read one way only: 400 with this message (and field errors)."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
"""C0, DEL and C1 control characters; one regex search instead of a Python call per character
(the headers' check was ~5% of the gateway's CPU per request, #19)."""
_CONTROL_BUT_TAB = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def normalise_path(raw: bytes) -> str:
    """The canonical path of a raw request target's path (see the module's docstring)."""
    lowered = raw.lower()
    if b"\\" in raw or b"%2f" in lowered or b"%5c" in lowered:
        raise Refused("Invalid path: encoded or backslash separators")
    try:
        path = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("Invalid path: not UTF-8") from None
    if not path.startswith("/"):
        raise Refused("Invalid path")
    if has_control(path):
        raise Refused("Invalid path: control characters")
    if "%" in path:
        raise Refused("Invalid path: encoded twice")
    if ";" in path:
        raise Refused("Invalid path: path parameters")
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        if segment.endswith("."):
            raise Refused("Invalid path: a segment ends in a dot")
        kept.append(segment)
    trailing = bool(kept) and segments[-1] in ("", ".", "..")
    return "/" + "/".join(kept) + ("/" if trailing else "")


def encode_path(path: str) -> str:
    """A canonical path as a request target again: every character that is not plain pchar
    percent-encoded, so that ``?`` or ``#`` in a segment can never become a query or fragment."""
    return quote(path, safe=_PATH_SAFE)


def encode_query(raw: bytes) -> str:
    """The raw query as sent upstream: bytes outside printable ASCII percent-encoded, the rest as
    the client wrote it."""
    return quote_from_bytes(raw, safe=_QUERY_SAFE + "%")


def query_errors(raw: bytes) -> dict[str, list[str]]:
    """Field errors per query parameter whose name or value is not UTF-8 text free of control
    characters (a fault in a name is reported under ``query``)."""
    errors: dict[str, list[str]] = {}
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name_raw, _, value_raw = pair.partition(b"=")
        name = _text(name_raw)
        if name is None:
            errors.setdefault("query", []).append("Parameter names must be UTF-8 text without control characters")
            continue
        if _text(value_raw) is None:
            errors.setdefault(name, []).append("Must be UTF-8 text without control characters")
    return errors


def _text(raw: bytes) -> str | None:
    try:
        text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if has_control(text) else text


def header_fault(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why these headers cannot be read (a message naming the header), or None."""
    seen: set[bytes] = set()
    for name, value in headers:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return f"Invalid header {name.decode('latin-1')}: not UTF-8"
        if _CONTROL_BUT_TAB.search(text):
            return f"Invalid header {name.decode('latin-1')}: control characters"
        if name in SINGLE_HEADERS:
            if name in seen:
                return f"Invalid header {name.decode('latin-1')}: sent more than once"
            seen.add(name)
    return None


def request_id(values: list[bytes]) -> str:
    """The caller's X-Request-Id when there is exactly one and it is plain printable ASCII of at most
    128 characters (it is logged, forwarded and echoed); else a fresh one."""
    if len(values) == 1 and 0 < len(values[0]) <= REQUEST_ID_MAX and all(0x21 <= b <= 0x7E for b in values[0]):
        return values[0].decode("ascii")
    return str(uuid.uuid4())


def is_internal(path: str) -> bool:
    bare = path.rstrip("/") or "/"
    return any(bare == p or bare.startswith(p + "/") for p in INTERNAL)


def client_address(real_ip: bytes | None, peer: str) -> str:
    """The client's address for rate limits: nginx's X-Real-IP when it is an IP address, else the
    peer's (a header that is not an address must not become a rate-limit key)."""
    if real_ip:
        try:
            return str(ipaddress.ip_address(real_ip.decode("ascii").strip()))
        except (UnicodeDecodeError, ValueError):
            pass
    return peer
