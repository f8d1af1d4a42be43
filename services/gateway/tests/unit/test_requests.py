"""The canonical request: one path for every spelling of it, refusals for what two decoders could
read two ways, query and header checks, request ids (#17)."""

from __future__ import annotations

import uuid

import pytest

from gateway.domain.requests import (
    Refused,
    client_address,
    encode_path,
    encode_query,
    has_control,
    header_fault,
    is_internal,
    normalise_path,
    query_errors,
    request_id,
)
from gateway.domain.routes import is_page, is_strict, upstream_of


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"/", "/"),
        (b"/api/v1/user", "/api/v1/user"),
        (b"/api/v1/user/", "/api/v1/user/"),
        (b"/api/v1/account/x/%2e%2e/forgot-password", "/api/v1/account/forgot-password"),
        (b"/api/v1/account/x/%2E%2E/forgot-password", "/api/v1/account/forgot-password"),
        (b"/api/v1/account/x/.%2e/forgot-password", "/api/v1/account/forgot-password"),
        (b"/api/v1/account/./forgot-password", "/api/v1/account/forgot-password"),
        (b"/api/v1/account//forgot-password", "/api/v1/account/forgot-password"),
        (b"//api///v1/account/forgot-password", "/api/v1/account/forgot-password"),
        (b"/api/v1/account/forgot%2Dpassword", "/api/v1/account/forgot-password"),
        (b"/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics", "/metrics"),
        (b"/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/metrics", "/metrics"),
        (b"/a/b/..", "/a/"),
        (b"/a/b/.", "/a/b/"),
        (b"/..", "/"),
        (b"/transactions/%C3%A9t%C3%A9", "/transactions/\u00e9t\u00e9"),
        (b"/api/v1/user%3Fx=1", "/api/v1/user?x=1"),
        (b"/a%20b", "/a b"),
    ],
)
def test_every_spelling_has_one_canonical_path(raw: bytes, path: str) -> None:
    assert normalise_path(raw) == path


@pytest.mark.parametrize(
    "raw",
    [
        b"/api/v1/auth/..%2f..%2fmetrics",
        b"/api/v1/auth/..%2F..%2Fmetrics",
        b"/api/v1/auth/..%5c..%5cmetrics",
        b"/api/v1/auth/..\\..\\metrics",
        b"/api/v1/auth/%252e%252e/metrics",
        b"/api/v1/auth/%25",
        b"/api/v1/auth/%zz",
        b"/api/v1/auth/%",
        b"/api/v1/auth/..;/metrics",
        b"/api/v1/auth/sign-in;jsessionid=1",
        b"/api/v1/auth/%3b",
        b"/metrics.",
        b"/api/v1/auth/...",
        b"/api/v1/auth/sign-in%00",
        b"/api/v1/auth/\x00",
        b"/api/v1/auth/%0d%0aSet-Cookie:%20x",
        b"/api/v1/auth/%7f",
        b"/api/v1/auth/%c2%85",
        b"/api/v1/auth/%c0%ae%c0%ae/metrics",
        b"/api/v1/auth/%e0%80%ae",
        b"/api/v1/auth/%ff",
        b"/api/v1/auth/%ed%a0%80",
        b"/api/v1/auth/\xff",
        b"api/v1/auth",
        b"",
    ],
)
def test_paths_that_read_two_ways_are_refused(raw: bytes) -> None:
    with pytest.raises(Refused):
        normalise_path(raw)


def test_the_canonical_path_is_what_gets_routed_and_limited() -> None:
    path = normalise_path(b"/api/v1/account/x/%2e%2e/forgot-password/")
    assert is_strict(path)
    assert upstream_of(normalise_path(b"/api/v1/user/%2e%2e/%2e%2e/%2e%2e/ready")) is None
    assert is_internal(normalise_path(b"/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics"))


def test_the_path_is_encoded_again_so_nothing_becomes_a_query() -> None:
    assert encode_path("/api/v1/user?x=1#y") == "/api/v1/user%3Fx=1%23y"
    assert encode_path("/transactions/\u00e9") == "/transactions/%C3%A9"
    assert encode_path("/a b") == "/a%20b"
    assert encode_path("/api/v1/user/6a1f1c9b-7a10-4d0b-9f55-6f1c1d3e8a8e") == (
        "/api/v1/user/6a1f1c9b-7a10-4d0b-9f55-6f1c1d3e8a8e"
    )
    assert encode_query(b"q=caf%C3%A9&x=\xc3\xa9+1") == "q=caf%C3%A9&x=%C3%A9+1"


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (b"", {}),
        (b"limit=10&offset=0&q=caf%C3%A9+au+lait", {}),
        (b"q=%00", {"q": ["Must be UTF-8 text without control characters"]}),
        (b"q=a%0Ab&limit=1", {"q": ["Must be UTF-8 text without control characters"]}),
        (b"offset=%7f", {"offset": ["Must be UTF-8 text without control characters"]}),
        (b"q=%ff", {"q": ["Must be UTF-8 text without control characters"]}),
        (b"q=%c0%ae", {"q": ["Must be UTF-8 text without control characters"]}),
        (b"q=\x01", {"q": ["Must be UTF-8 text without control characters"]}),
        (b"%00=1", {"query": ["Parameter names must be UTF-8 text without control characters"]}),
    ],
)
def test_query_parameters_are_text(raw: bytes, errors: dict[str, list[str]]) -> None:
    assert query_errors(raw) == errors


@pytest.mark.parametrize(
    ("headers", "fault"),
    [
        ([(b"user-agent", b"curl/8"), (b"accept", b"*/*")], None),
        ([(b"user-agent", "caf\u00e9".encode())], None),
        ([(b"x-tab", b"a\tb")], None),
        ([(b"authorization", b"Bearer \xff")], "Invalid header authorization: not UTF-8"),
        ([(b"cookie", b"bs_session=\xc0\xae")], "Invalid header cookie: not UTF-8"),
        ([(b"x-note", b"a\x01b")], "Invalid header x-note: control characters"),
        ([(b"x-note", "\u0085".encode())], "Invalid header x-note: control characters"),
        (
            [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
            "Invalid header authorization: sent more than once",
        ),
        (
            [(b"idempotency-key", b"k1"), (b"idempotency-key", b"k2")],
            "Invalid header idempotency-key: sent more than once",
        ),
        ([(b"accept", b"a"), (b"accept", b"b")], None),
    ],
)
def test_header_values_are_text(headers: list[tuple[bytes, bytes]], fault: str | None) -> None:
    assert header_fault(headers) == fault


def test_request_ids_are_kept_only_when_plain() -> None:
    assert request_id([b"abc-123"]) == "abc-123"
    assert request_id([b"x" * 128]) == "x" * 128
    for values in ([], [b""], [b"x" * 129], [b"a b"], [b"\xff"], ["\u20ac".encode()], [b"a", b"b"]):
        assert uuid.UUID(request_id(values))


def test_internal_endpoints() -> None:
    for path in ("/metrics", "/metrics/", "/ready", "/schema", "/schema/openapi.json", "/schema/swagger"):
        assert is_internal(path), path
    for path in ("/health", "/api/docs", "/api/docs/openapi.json", "/api/v1/user/metrics", "/schemas"):
        assert not is_internal(path), path


def test_client_address() -> None:
    assert client_address(b"203.0.113.9", "127.0.0.1") == "203.0.113.9"
    assert client_address(b"2001:db8::1", "127.0.0.1") == "2001:db8::1"
    for bad in (None, b"", b"not-an-ip", b"1.2.3.4, 5.6.7.8", b"\xff", b"x" * 300):
        assert client_address(bad, "127.0.0.1") == "127.0.0.1"


def test_pages_and_the_api() -> None:
    for path in ("/", "/sign-in", "/transactions/x/edit", "/ops", "/ops/", "/ops/sign-in", "/ops/dead-letters"):
        assert is_page(path), path
    for path in ("/api/v1/user", "/ops/api", "/ops/api/dead-letters", "/health", "/.well-known/jwks.json", "/x"):
        assert not is_page(path), path


def test_control_characters_are_found_by_one_search() -> None:
    """#19: the per-character check became one regex search; the same characters are control."""
    for code in [*range(0x300), 0x2028, 0xFEFF, 0x10FFFF]:
        assert has_control(f"ab{chr(code)}cd") == (code < 0x20 or 0x7F <= code <= 0x9F), hex(code)
    assert header_fault([(b"x-a", b"a\tb")]) is None  # a tab is allowed in a header value
    assert header_fault([(b"x-a", "a\x85b".encode())]) == "Invalid header x-a: control characters"
