"""Typed payloads of every event type of SPEC §2.2; importing this package registers them all."""

from blazing_contracts.events import auth, category, system, transaction, user

__all__ = ["auth", "category", "system", "transaction", "user"]
