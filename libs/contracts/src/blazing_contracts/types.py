"""Constrained value types shared by events and commands."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Permission = Literal[1, 10, 50, 100]
"""1 basic, 10 admin, 50 affiliate, 100 super admin (the original's values)."""

TransactionType = Literal["income", "expense"]

Cents = Annotated[int, msgspec.Meta(gt=0)]
"""A positive amount of money in integer cents."""

Priority = Annotated[int, msgspec.Meta(ge=1, le=5)]

EmailTemplate = Literal[
    "welcome",
    "account_activation",
    "account_exists",
    "forgot_password",
    "user_must_set_password",
    "password_change",
    "activation_success",
    "password_reset_success",
    "account_locked",
]
