"""The pages' pure rules: amounts as people write them, and the monthly chart's geometry."""

from __future__ import annotations

import pytest

from web.domain.chart import Month, chart
from web.domain.money import cents, decimal_text, money


@pytest.mark.parametrize(
    ("text", "value"),
    [("12.34", 1234), (" 7 ", 700), ("0,5", 50), ("0.01", 1), ("999999999999999.99", 99_999_999_999_999_999)],
)
def test_an_amount_is_a_positive_number_with_at_most_two_decimals(text: str, value: int) -> None:
    assert cents(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "abc", "0", "-1", "1.001", "NaN", "Infinity", "1e309", "12.3.4", "1e2", "\u0661\u0662", "1_000", "+5", ".5"],
)
def test_anything_else_is_not_an_amount(text: str) -> None:
    assert cents(text) is None


def test_amounts_read_as_decimals() -> None:
    assert money(123_456_789) == "1,234,567.89"
    assert money(-5) == "-0.05"
    assert decimal_text(1_250) == "12.50"


def test_no_months_is_an_empty_chart_of_the_least_width() -> None:
    empty = chart([])
    assert (empty.bars, empty.width, empty.bar) == ([], 200, 24)


def test_a_months_categories_add_up_and_the_biggest_bar_is_full_height() -> None:
    shown = chart(
        [
            Month(month="2026-10", income=10_000, expense=0),
            Month(month="2026-11", income=0, expense=2_500),
            Month(month="2026-11", income=5_000, expense=2_500),
        ]
    )
    october, november = shown.bars
    assert (october.month, october.x, november.x) == ("2026-10", 10, 70)
    assert (october.income.y, october.income.h, october.income.value) == (20, 150, "100.00")
    assert (october.expense.y, october.expense.h) == (170, 0)
    assert (november.income.h, november.expense.h, november.expense.value) == (75, 75, "50.00")
    assert shown.width == 200


def test_only_the_last_twelve_months_are_drawn_in_order() -> None:
    months = [Month(month=f"2025-{m:02d}", income=m, expense=0) for m in range(12, 0, -1)]
    months += [Month(month="2026-01", income=1, expense=1), Month(month="2026-02", income=2, expense=2)]
    shown = chart(months)
    assert [b.month for b in shown.bars] == [f"2025-{m:02d}" for m in range(3, 13)] + ["2026-01", "2026-02"]
    assert shown.width == 20 + 12 * 60
