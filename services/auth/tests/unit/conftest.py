"""What auth's unit tests share: the whole service on its in-memory fakes, fresh for each test."""

from __future__ import annotations

import pytest

from auth.adapters.memory import InMemoryAuth


@pytest.fixture
def auth() -> InMemoryAuth:
    return InMemoryAuth()
