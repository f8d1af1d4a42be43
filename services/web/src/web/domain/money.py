"""Amounts: the APIs count cents, people write and read decimals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def cents(text: str) -> int | None:
    """'12.34' → 1234 (a comma is a decimal point too); None when it is not an amount greater than
    0 with at most two decimals."""
    try:
        value = Decimal(text.strip().replace(",", "."))
        # quantize raises too, for a value with more digits than the context holds (1e30, 1e309)
        exact = value.is_finite() and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return int(value * 100) if exact and value > 0 else None


def money(value: int) -> str:
    """1234567 → '12,345.67'."""
    return f"{value / 100:,.2f}"


def decimal_text(value: int) -> str:
    """1250 → '12.50', as a form shows an amount to change."""
    return f"{value / 100:.2f}"
