"""The balance page's monthly chart as SVG geometry, computed on the server (the pages run no
script and allow no inline style): one income and one expense bar per month, the last twelve
months, scaled to the biggest bar."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from web.domain.money import money

HEIGHT = 150
"""The tallest bar."""
BASELINE = 170
WIDTH = 48
GAP = 12
MONTHS = 12


class Month(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the monthly report: a month's income and expense in one category."""

    month: str
    income: int
    expense: int


class Column(msgspec.Struct, frozen=True, kw_only=True):
    y: float
    h: float
    value: str


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    x: int
    income: Column
    expense: Column


class Chart(msgspec.Struct, frozen=True, kw_only=True):
    bars: list[Bar]
    width: int
    bar: int
    """The width of one column (a bar is an income and an expense column side by side)."""


def chart(months: Sequence[Month]) -> Chart:
    totals: dict[str, list[int]] = {}
    for row in months:
        pair = totals.setdefault(row.month, [0, 0])
        pair[0] += row.income
        pair[1] += row.expense
    top = max((max(v) for v in totals.values()), default=0) or 1

    def column(amount: int) -> Column:
        return Column(y=BASELINE - HEIGHT * amount / top, h=HEIGHT * amount / top, value=money(amount))

    bars = [
        Bar(month=month, x=10 + i * (WIDTH + GAP), income=column(income), expense=column(expense))
        for i, (month, (income, expense)) in enumerate(sorted(totals.items())[-MONTHS:])
    ]
    return Chart(bars=bars, width=max(200, 20 + len(bars) * (WIDTH + GAP)), bar=WIDTH // 2)
