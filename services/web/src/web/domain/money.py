"""Amounts: the APIs count cents, people write and read decimals."""

from __future__ import annotations

import re
from decimal import Decimal

_AMOUNT = re.compile(r"[0-9]{1,15}(?:[.,][0-9]{1,2})?")
"""An amount as people write it: ASCII digits, at most two decimals after a point or a comma."""


def cents(text: str) -> int | None:
    """'12.34' → 1234 (a comma is a decimal point too); None when it is not an amount greater than
    0 with at most two decimals, written in ASCII digits — Decimal alone also reads '١٢' (Arabic-Indic
    digits), '1_000' and '1e2', which a form shows back as something else than was typed."""
    written = text.strip()
    if not _AMOUNT.fullmatch(written):
        return None
    value = Decimal(written.replace(",", "."))
    return int(value * 100) if value > 0 else None


def money(value: int) -> str:
    """1234567 → '12,345.67'."""
    return f"{value / 100:,.2f}"


def decimal_text(value: int) -> str:
    """1250 → '12.50', as a form shows an amount to change."""
    return f"{value / 100:.2f}"
