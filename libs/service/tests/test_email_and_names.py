"""The one e-mail rule and the one name rule auth and users share."""

from __future__ import annotations

import pytest

from blazing_service import Checks
from blazing_service.email import INVALID, REQUIRED, TOO_LONG, email_problems, normalize_email
from blazing_service.names import check_name


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.org",
        "Ada.Lovelace+ledger@mail.example.co.uk",
        "o'brien@example.ie",
        "a_b-c@sub-domain.example.com",
        "x@xn--bcher-kva.example",
        "  spaced@example.org ",
        "1@2.io",
    ],
)
def test_accepted(address: str) -> None:
    assert email_problems(address) == []


@pytest.mark.parametrize(
    "address",
    [
        "@.",
        "@",
        "a@b",
        "a@b.",
        "a@.co",
        "@b.co",
        ".a@b.co",
        "a.@b.co",
        "a..b@c.co",
        "a@-b.co",
        "a@b-.co",
        "a@b..co",
        "a@b.c",
        "a@b.c0",
        "a@@b.co",
        "a b@c.co",
        "a@b.co\n",
        "a\r\n@b.co",
        "a\x00@b.co",
        "a@b.co\u200b",
        "\uff21\uff44\uff41@\uff45\uff58.\uff43\uff4f",
        "j\u00f6rg@example.org",
        '"quoted"@example.org',
        "a@[127.0.0.1]",
        "a" * 65 + "@example.org",
        "a@" + "b" * 64 + ".co",
    ],
)
def test_refused(address: str) -> None:
    assert email_problems(address) == [INVALID]


def test_empty_and_too_long() -> None:
    assert email_problems("") == [REQUIRED]
    assert email_problems("   ") == [REQUIRED]
    assert email_problems("a" * 10_000 + "@example.org") == [TOO_LONG]
    assert email_problems("a" * 60 + "@" + "b" * 36 + ".org") == [TOO_LONG]


def test_normalized_form() -> None:
    assert normalize_email("  Ada@Example.ORG ") == "ada@example.org"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Ada", True),
        ("  Ada  ", True),
        ("Zoë", True),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", True),  # Persian with a ZWNJ
        ("\U0001f469\u200d\U0001f4bb", True),
        ("A", False),
        ("A" * 51, False),
        ("Ada\r\nBcc: x", False),
        ("Ada\u0000", False),
        ("Ada\u202e", False),
        ("Ada\u200b", False),
        ("\ufeffAda", False),
        ("Ada\ue000", False),
    ],
)
def test_names(value: str, ok: bool) -> None:
    c = Checks()
    check_name(c, value, "first_name", "First name")
    assert (c.errors == {}) is ok, c.errors


@pytest.mark.parametrize(
    ("value", "multiline", "ok"),
    [
        ("Groceries", False, True),
        ("Caf\u00e9 \U0001f469\u200d\U0001f4bb", False, True),
        ("\u202eevil", False, False),  # a category or memo showed reversed, spoofed text
        ("\u200b", False, False),
        ("Fo\u00adod", False, False),  # a soft hyphen: "Food" twice, invisibly different
        ("line\u2028break", False, False),  # U+2028 breaks a line as LF does
        ("line\u2028break", True, True),
        ("two\nlines", True, True),
        ("two\u202elines", True, False),
    ],
)
def test_every_text_field_refuses_what_cannot_be_seen(value: str, multiline: bool, ok: bool) -> None:
    """The class of the names' rule: every field Checks.length guards (category names and
    descriptions, memos, ops filters …), not only people's names."""
    c = Checks()
    c.length(value, "memo", 1, 100, multiline=multiline)
    assert (c.errors == {}) is ok, c.errors
