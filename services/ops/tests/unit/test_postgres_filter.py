"""The PostgreSQL adapter's filter: parameterised SQL, the constant clauses of each condition (the
in-memory fake's rules are held to the same results by tests/integration/test_adapters.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ops.adapters.postgres import where
from ops.domain.dead_letters import Filter

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_a_filter_is_parameterised_sql() -> None:
    f = Filter(topic="user.events", error="50%_off", status="pending", since=NOW, ids=[uuid.UUID(int=1)])
    condition, params = where(f)
    assert condition == (
        "original_topic = %s AND status = %s AND (error_message ILIKE %s OR error_type ILIKE %s)"
        " AND last_failure_at >= %s AND dead_letter_id = ANY(%s)"
    )
    assert params == ["user.events", "pending", "%50\\%\\_off%", "%50\\%\\_off%", NOW, [uuid.UUID(int=1)]]
    assert where(Filter()) == ("true", [])


def test_replayable_keeps_what_may_still_be_replayed_or_discarded() -> None:
    condition, params = where(Filter(until=NOW), replayable=True)
    assert condition == "status = ANY(%s) AND last_failure_at < %s"
    assert params == [["pending", "replayed"], NOW]
