"""The ledger decider: Given events, When a command, Then events or an error."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ledger.domain import ledger as lg

USER = uuid.uuid4()
FOOD, SALARY = uuid.uuid4(), uuid.uuid4()
DAY = date(2026, 11, 29)


def given(*events: lg.Event) -> lg.Ledger:
    return lg.fold(lg.Ledger(user_id=USER), list(events))


def base() -> lg.Ledger:
    return given(
        lg.CategoryCreated(category_id=FOOD, name="Food"), lg.CategoryCreated(category_id=SALARY, name="Salary")
    )


def income(amount: int, tid: uuid.UUID | None = None) -> lg.TransactionCreated:
    return lg.TransactionCreated(
        transaction_id=tid or uuid.uuid4(),
        category_id=SALARY,
        type="income",
        amount=amount,
        memo="pay",
        occurred_on=DAY,
    )


def test_category_names_are_unique_case_insensitively() -> None:
    with pytest.raises(lg.DuplicateNameError):
        lg.create_category(base(), uuid.uuid4(), "  fOOd ", None)
    assert lg.create_category(base(), uuid.uuid4(), "Rent", "monthly")[0].name == "Rent"


@pytest.mark.parametrize("twin", ["\uff26\uff4f\uff4f\uff44", "FOOD", "food "])  # fullwidth "Food"
def test_names_that_read_the_same_are_the_same_name(twin: str) -> None:
    """Fullwidth letters and a decomposed accent made a second "Food" or "Café" (black-box review)."""
    with pytest.raises(lg.DuplicateNameError):
        lg.create_category(base(), uuid.uuid4(), twin, None)
    cafe = lg.fold(base(), lg.create_category(base(), uuid.uuid4(), "Caf\u00e9", None))
    with pytest.raises(lg.DuplicateNameError):
        lg.create_category(cafe, uuid.uuid4(), "Cafe\u0301", None)


def test_an_expense_beyond_the_balance_is_refused() -> None:
    state = lg.fold(base(), [income(1000)])
    ok = lg.create_transaction(
        state,
        uuid.uuid4(),
        lg.Transaction(category_id=FOOD, type="expense", amount=1000, memo="all of it", occurred_on=DAY),
    )
    assert lg.fold(state, ok).balance == 0
    with pytest.raises(lg.OverdraftError):
        lg.create_transaction(
            state,
            uuid.uuid4(),
            lg.Transaction(category_id=FOOD, type="expense", amount=1001, memo="too much", occurred_on=DAY),
        )


def test_changes_map_to_their_events() -> None:
    tid = uuid.uuid4()
    state = lg.fold(base(), [income(5000, tid)])
    events = lg.change_transaction(state, tid, lg.TransactionChange(amount=6000, category_id=FOOD, memo="bonus"))
    assert [type(e) for e in events] == [lg.TransactionCategorized, lg.TransactionAmountAdjusted, lg.TransactionUpdated]
    after = lg.fold(state, events)
    assert after.balance == 6000
    assert after.category_balance(FOOD) == 6000
    assert lg.change_transaction(state, tid, lg.TransactionChange(memo="pay")) == []


def test_turning_income_into_expense_cannot_overdraw() -> None:
    tid = uuid.uuid4()
    state = lg.fold(base(), [income(500, tid)])
    with pytest.raises(lg.OverdraftError):
        lg.change_transaction(state, tid, lg.TransactionChange(type="expense"))


def test_deleting_an_income_that_was_spent_is_refused() -> None:
    tid = uuid.uuid4()
    state = lg.fold(
        base(),
        [
            income(500, tid),
            lg.TransactionCreated(
                transaction_id=uuid.uuid4(), category_id=FOOD, type="expense", amount=400, memo="x", occurred_on=DAY
            ),
        ],
    )
    with pytest.raises(lg.OverdraftError):
        lg.delete_transaction(state, tid)
    with pytest.raises(lg.OverdraftError):
        lg.delete_category(state, SALARY)


def test_deleting_a_category_deletes_its_transactions_each_with_an_event() -> None:
    state = lg.fold(base(), [income(100), income(200)])
    events = lg.delete_category(state, SALARY)
    assert [type(e) for e in events] == [lg.TransactionDeleted, lg.TransactionDeleted, lg.CategoryDeleted]
    after = lg.fold(state, events)
    assert (after.balance, len(after.transactions), SALARY in after.categories) == (0, 0, False)


def test_unknown_category_or_transaction() -> None:
    with pytest.raises(lg.NotFoundError):
        lg.create_transaction(
            base(),
            uuid.uuid4(),
            lg.Transaction(category_id=uuid.uuid4(), type="income", amount=1, memo="m", occurred_on=DAY),
        )
    with pytest.raises(lg.NotFoundError):
        lg.delete_transaction(base(), uuid.uuid4())
    with pytest.raises(lg.NotFoundError):
        lg.update_category(base(), uuid.uuid4(), "x", None, description_given=False)


def test_deleting_a_category_counts_the_transactions_it_took() -> None:
    state = lg.fold(base(), [income(100), income(200)])
    assert lg.delete_category(state, SALARY)[-1] == lg.CategoryDeleted(category_id=SALARY, transactions_deleted=2)


def test_totals_follow_every_change_as_a_sum_over_the_transactions_would() -> None:
    moved, spent = uuid.uuid4(), uuid.uuid4()
    state = lg.fold(
        base(),
        [
            income(900, moved),
            income(300),
            lg.TransactionCreated(
                transaction_id=spent, category_id=FOOD, type="expense", amount=250, memo="x", occurred_on=DAY
            ),
        ],
    )
    for change in (lg.TransactionChange(category_id=FOOD), lg.TransactionChange(amount=700)):
        state = lg.fold(state, lg.change_transaction(state, moved, change))
    state = lg.fold(state, lg.delete_transaction(state, spent))
    state = lg.fold(state, lg.change_transaction(state, moved, lg.TransactionChange(type="expense", amount=100)))

    def summed(kind: str, category: uuid.UUID | None = None) -> int:
        return sum(
            t.amount for t in state.transactions.values() if t.type == kind and category in (None, t.category_id)
        )

    assert (state.income_total, state.expense_total) == (summed("income"), summed("expense")) == (300, 100)
    for cid in (FOOD, SALARY):
        category = state.categories[cid]
        assert (category.income, category.expense) == (summed("income", cid), summed("expense", cid))
    assert state.balance == 200
