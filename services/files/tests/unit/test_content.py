"""The type of a file comes from its bytes; the name's extension must agree and be allowed."""

from __future__ import annotations

import pytest

from files.domain.content import ContentError, extension_of, identify, safe_name

ALLOWED = frozenset({"png", "jpg", "pdf", "txt", "csv", "svg", "docx", "doc", "gz"})
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
PDF = b"%PDF-1.7\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24


@pytest.mark.parametrize(
    ("name", "head", "mime"),
    [
        ("a.png", PNG, "image/png"),
        ("A.PNG", PNG, "image/png"),
        ("doc.pdf", PDF, "application/pdf"),
        ("notes.txt", "héllo wörld\n".encode(), "text/plain"),
        ("table.csv", b"a,b\n1,2\n", "text/csv"),
        ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "image/svg+xml"),
        ("letter.docx", ZIP, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("old.doc", OLE2, "application/msword"),
        ("x.gz", b"\x1f\x8b\x08\x00rest", "application/gzip"),
    ],
)
def test_allowed_content_is_identified(name: str, head: bytes, mime: str) -> None:
    assert identify(name, head, ALLOWED).mime_type == mime


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("a.png", PDF),
        ("a.jpg", PNG),
        ("a.txt", b"\x00\x01binary"),
        ("a.txt", b"\xff\xfe\xfa not utf-8"),
        ("a.svg", b"plain text"),
        ("a.pdf", b""),
        ("a.docx", PDF),
        ("a.exe", b"MZ"),
        ("noextension", PNG),
        ("trailingdot.", PNG),
    ],
)
def test_content_that_does_not_match_is_refused(name: str, head: bytes) -> None:
    with pytest.raises(ContentError):
        identify(name, head, ALLOWED)


def test_a_utf8_character_cut_by_the_sample_end_is_still_text() -> None:
    head = ("a" * 10 + "é").encode()[:-1]
    assert identify("cut.txt", head, ALLOWED).mime_type == "text/plain"


def test_names_lose_paths_and_odd_characters() -> None:
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name('C:\\Users\\me\\a"b;c.png') == "a_b_c.png"
    assert extension_of("archive.tar.gz") == "gz"
