"""Sign-up, activation, sign-in (lockout, throttle) and refresh on the in-memory fakes: every rule,
what is stored, what is published and what is mailed — no server."""

from __future__ import annotations

import uuid

import pytest

from auth.adapters.memory import InMemoryAuth, InMemoryAuthUnitOfWork
from auth.application.ports import EmailTaken, RequestContext
from auth.application.rules import AuthRules
from auth.application.sign_in import INVALID_CREDENTIALS, NOT_ACTIVATED
from auth.domain import credential as c
from blazing_app import BadInput, Forbidden, NotFound, Throttled, Unauthenticated
from blazing_es.runner import Context
from blazing_testing.accounts import PASSWORD, new_email

CTX = RequestContext(ip="10.0.0.1", user_agent="tests", correlation_id="corr-1")


# ---------------------------------------------------------------------------------- sign-up


async def test_a_sign_up_registers_asks_users_for_the_profile_and_mails_the_activation(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    signed_up = await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)
    await auth.settled()
    assert signed_up.confirmed
    user_id = await auth.ports.reads.user_id_by_email(address)
    assert user_id is not None
    row = auth.db.tables.credentials[user_id]
    assert (row["status"], row["password_hash"], row["profile_confirmed"], row["version"]) == (
        "pending",
        f"hashed:{PASSWORD}",
        True,
        1,
    )
    assert [e.event_type for e in auth.stored(user_id)] == ["registered"]
    assert auth.published() == [], "a registration is nobody else's business"
    [created] = auth.users.created
    assert (created.user_id, created.email, created.last_name, created.permissions) == (user_id, address, "Byron", 1)
    assert auth.db.tables.profiles[user_id]["last_name"] == "Byron"
    [mail] = auth.mailer.to(address, "account_activation")
    assert mail.variables["expires_in_minutes"] == "60"
    assert len(mail.variables["activation_code"]) == 40


async def test_a_sign_up_users_did_not_confirm_in_time_is_reconciled_later(auth: InMemoryAuth) -> None:
    auth.users.confirms = False
    address = new_email("ada")
    assert not (await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)).confirmed
    assert await auth.handlers.reconcile_create_user() == 0, "not before a minute passed"
    auth.clock.advance(minutes=2)
    assert await auth.handlers.reconcile_create_user() == 1
    assert [u.email for u in auth.users.sent_later] == [address]


async def test_a_registered_address_answers_like_a_new_one_and_its_owner_is_mailed(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    auth.users.confirms = False  # the last new sign-up ended queued: the registered one ends so too
    await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)
    again = await auth.handlers.sign_up(address.upper(), "0ther!Passw0rd", "Eve", "Byron", CTX)
    await auth.settled()
    assert not again.confirmed
    assert len(auth.db.tables.credentials) == 1
    assert len(auth.users.created) == 1
    assert [m.template for m in auth.mailer.sent] == ["account_activation", "account_exists"]


async def test_the_account_exists_mail_counts_against_the_addresss_allowance(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    for _ in range(8):
        await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)
    await auth.settled()
    assert len(auth.mailer.to(address, "account_exists")) == 5


async def test_a_concurrent_sign_up_of_the_same_address_is_answered_as_a_registered_one(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)

    class Raced(InMemoryAuthUnitOfWork):
        def bind(self) -> None:
            super().bind()

            async def not_yet(_: str) -> uuid.UUID | None:
                return None  # looked before the other sign-up committed

            self.credentials.user_id_by_email = not_yet  # type: ignore[method-assign]

    raced = InMemoryAuth()
    raced.db = auth.db
    handlers = raced.handlers
    handlers.sign_up.uow = lambda: Raced(auth.db)
    assert (await handlers.sign_up(address, PASSWORD, "Eve", "Byron", CTX)).confirmed
    await raced.settled()
    assert len(auth.db.tables.credentials) == 1
    assert [m.template for m in raced.mailer.sent] == ["account_exists"]


async def test_the_memory_store_refuses_a_second_credential_with_an_address(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)
    other = c.Credential(user_id=uuid.uuid4())

    async def save_another() -> None:
        async with InMemoryAuthUnitOfWork(auth.db) as uow:
            await uow.credentials.save(c.fold(other, c.register(other, address.title(), "Eve", "h")), 1)

    with pytest.raises(EmailTaken):
        await save_another()


async def test_a_mail_that_cannot_be_queued_does_not_fail_the_sign_up(auth: InMemoryAuth) -> None:
    auth.mailer.fail = True
    assert (await auth.handlers.sign_up(new_email("ada"), PASSWORD, "Ada", "Byron", CTX)).confirmed
    await auth.settled()


# ---------------------------------------------------------------------------------- activation


async def test_activation_publishes_once_and_the_code_is_single_use(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    code = await auth.activation_code(address, PASSWORD, CTX)
    await auth.handlers.activate(code, CTX)
    user_id = await auth.ports.reads.user_id_by_email(address)
    assert user_id is not None
    assert auth.db.tables.credentials[user_id]["status"] == "active"
    [activated] = auth.db.published
    assert (activated.event_type, activated.aggregate_version, activated.payload.method) == (  # type: ignore[attr-defined]
        "auth.account_activated",
        2,
        "activation_code",
    )
    assert len(auth.mailer.to(address, "activation_success")) == 1
    with pytest.raises(BadInput, match="Activation code has expired or already been used"):
        await auth.handlers.activate(code, CTX)
    with pytest.raises(NotFound, match="Invalid or expired activation code"):
        await auth.handlers.activate("Z" * 40, CTX)


async def test_a_reset_code_does_not_activate(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    await auth.activated(address, PASSWORD, CTX)
    await auth.handlers.forgot_password(address, CTX)
    await auth.settled()
    with pytest.raises(BadInput, match="Invalid activation code"):
        await auth.handlers.activate(auth.code(address, "forgot_password"), CTX)


async def test_a_resent_activation_code_replaces_the_first(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    first = await auth.activation_code(address, PASSWORD, CTX)
    await auth.handlers.resend_activation(address, CTX)
    await auth.handlers.resend_activation(new_email("ada"), CTX)  # unknown: nothing, the same answer
    await auth.settled()
    second = auth.code(address, "account_activation")
    assert second != first
    with pytest.raises(BadInput):
        await auth.handlers.activate(first, CTX)
    await auth.handlers.activate(second, CTX)
    await auth.handlers.resend_activation(address, CTX)  # active now: nothing to resend
    await auth.settled()
    assert len(auth.mailer.to(address, "account_activation")) == 2


# ---------------------------------------------------------------------------------- sign-in


async def test_a_sign_in_opens_a_session_with_the_accounts_level(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    signed_in = await auth.handlers.sign_in(address, PASSWORD, CTX)
    tokens, account = signed_in.tokens, signed_in.account
    assert tokens.access_token == f"access:{user_id}:{tokens.session_id}:1"
    assert (tokens.token_type, tokens.expires_in) == ("Bearer", 900)
    assert (account.id, account.email, account.first_name, account.last_name, account.balance) == (
        user_id,
        address,
        "Ada",
        "Byron",
        0,
    )
    [session] = await auth.handlers.list_sessions(user_id)
    assert (session.session_id, session.ip, session.user_agent) == (tokens.session_id, "10.0.0.1", "tests")
    sign_in = auth.db.published[-1]
    assert sign_in.event_type == "auth.sign_in"
    assert (sign_in.payload.session_id, sign_in.payload.ip) == (tokens.session_id, "10.0.0.1")  # type: ignore[attr-defined]
    assert (sign_in.aggregate_version, sign_in.correlation_id) == (3, "corr-1")


async def test_an_unknown_address_is_refused_after_the_same_work_and_published_as_no_ones(
    auth: InMemoryAuth,
) -> None:
    with pytest.raises(Unauthenticated, match=INVALID_CREDENTIALS):
        await auth.handlers.sign_in(new_email("ada"), PASSWORD, CTX)
    assert auth.hasher.checked == [None], "one (dummy) argon2 check, as for a known address"
    [failed] = auth.db.published
    assert (failed.event_type, failed.payload.user_id, failed.payload.ip) == (  # type: ignore[attr-defined]
        "auth.sign_in_failed",
        None,
        "10.0.0.1",
    )
    [stored] = auth.stored(uuid.UUID(failed.aggregate_id))
    assert (stored.event_type, stored.version, failed.aggregate_version) == ("sign_in_failed", 1, 1)
    assert auth.db.tables.credentials == {}, "an attempt on nobody leaves no credential"


async def test_the_fifth_wrong_password_locks_the_right_one_is_refused_meanwhile_and_the_lock_ends(
    auth: InMemoryAuth,
) -> None:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    for _ in range(5):
        with pytest.raises(Unauthenticated, match=INVALID_CREDENTIALS):
            await auth.handlers.sign_in(address, "Wr0ng!Passw0rd", CTX)
    assert auth.published(user_id)[-2:] == ["auth.sign_in_failed", "auth.account_locked"]
    assert len(auth.mailer.to(address, "account_locked")) == 1
    checks = len(auth.hasher.checked)
    with pytest.raises(Unauthenticated, match=INVALID_CREDENTIALS):
        await auth.handlers.sign_in(address, PASSWORD, CTX)
    assert auth.hasher.checked[checks:] == [None], "refused unjudged, after the same work"
    refused = auth.db.published[-1]
    assert (refused.payload.reason, refused.payload.failed_attempts) == ("account_locked", 5)  # type: ignore[attr-defined]
    auth.clock.advance(minutes=15)
    assert (await auth.handlers.sign_in(address, PASSWORD, CTX)).account.id == user_id
    assert auth.published(user_id)[-2:] == ["auth.account_unlocked", "auth.sign_in"]
    assert auth.db.published[-2].payload.reason == "expired"  # type: ignore[attr-defined]


async def test_the_right_password_of_an_account_not_activated_is_403_and_a_wrong_one_counts(
    auth: InMemoryAuth,
) -> None:
    address = new_email("ada")
    await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)
    user_id = await auth.ports.reads.user_id_by_email(address)
    assert user_id is not None
    with pytest.raises(Forbidden, match=NOT_ACTIVATED):
        await auth.handlers.sign_in(address, PASSWORD, CTX)
    assert [e.event_type for e in auth.stored(user_id)] == ["registered"]
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(address, "Wr0ng!Passw0rd", CTX)
    assert auth.db.tables.credentials[user_id]["failed_attempts"] == 1


async def test_a_client_with_too_many_failures_waits_others_do_not() -> None:
    auth = InMemoryAuth()
    auth.failures.limit = 3
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth.handlers.sign_in(new_email("ada"), PASSWORD, CTX)
    with pytest.raises(Throttled) as throttled:
        await auth.handlers.sign_in(new_email("ada"), PASSWORD, CTX)
    assert 1 <= throttled.value.retry_after <= 900
    elsewhere = RequestContext(ip="10.9.9.9")
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(new_email("ada"), PASSWORD, elsewhere)
    without_address = RequestContext()  # a caller inside the host: no client address to throttle
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await auth.handlers.sign_in(new_email("ada"), PASSWORD, without_address)
    auth.clock.advance(minutes=16)
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(new_email("ada"), PASSWORD, CTX)


async def test_a_password_changed_while_it_was_checked_is_checked_again(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    verify = auth.hasher.verify

    async def reset_meanwhile(password_hash: str | None, password: str) -> bool:
        right = await verify(password_hash, password)
        if len(auth.hasher.checked) == 1:  # the first check: someone resets the password now
            async with InMemoryAuthUnitOfWork(auth.db) as uow:
                await auth.handlers.sign_in.credentials.write(
                    uow,
                    user_id,
                    lambda s: c.set_password(s, "hashed:N3w!Passw0rd", "reset", 0, auth.clock()),
                    Context(correlation_id="someone else"),
                )
        return right

    auth.hasher.verify = reset_meanwhile  # type: ignore[method-assign]
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(address, PASSWORD, CTX)
    assert auth.hasher.checked == [f"hashed:{PASSWORD}", "hashed:N3w!Passw0rd"]
    assert auth.published(user_id)[-1] == "auth.sign_in_failed", "judged against the new password"


async def test_a_credential_erased_since_its_lookup_is_refused(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    verify = auth.hasher.verify

    async def erased_meanwhile(password_hash: str | None, password: str) -> bool:
        await auth.handlers.revoke_access(user_id, "deleted", None, 0)
        return await verify(password_hash, password)

    auth.hasher.verify = erased_meanwhile  # type: ignore[method-assign]
    with pytest.raises(Unauthenticated, match=INVALID_CREDENTIALS):
        await auth.handlers.sign_in(address, PASSWORD, CTX)
    assert await auth.handlers.list_sessions(user_id) == []


# ---------------------------------------------------------------------------------- refresh


async def test_refresh_rotates_and_a_reused_token_ends_the_session(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    await auth.activated(address, PASSWORD, CTX)
    first = (await auth.handlers.sign_in(address, PASSWORD, CTX)).tokens
    second = await auth.handlers.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    with pytest.raises(Unauthenticated, match="reuse"):
        await auth.handlers.refresh(first.refresh_token)
    assert auth.revocations.revoked == [first.session_id]
    with pytest.raises(Unauthenticated, match="Invalid or expired refresh token"):
        await auth.handlers.refresh(second.refresh_token)


async def test_unknown_expired_and_orphaned_refresh_tokens_are_invalid(auth: InMemoryAuth) -> None:
    with pytest.raises(Unauthenticated, match="Invalid or expired"):
        await auth.handlers.refresh("x" * 64)
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    tokens = (await auth.handlers.sign_in(address, PASSWORD, CTX)).tokens
    auth.clock.advance(days=31)
    with pytest.raises(Unauthenticated, match="Invalid or expired"):
        await auth.handlers.refresh(tokens.refresh_token)
    auth.clock.advance(days=-31)
    await auth.handlers.revoke_access(user_id, "deleted", None, 0)
    with pytest.raises(Unauthenticated, match="Invalid or expired"):
        await auth.handlers.refresh(tokens.refresh_token)


async def test_a_changed_level_is_in_the_next_token(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    assert await auth.handlers.revoke_access(user_id, "permissions_changed", 10, 2) == 0
    tokens = (await auth.handlers.sign_in(address, PASSWORD, CTX)).tokens
    assert tokens.access_token.endswith(":10")


def test_the_rules_default_to_the_originals() -> None:
    rules = AuthRules()
    assert (rules.lock.lock_threshold, rules.code_minutes["must_set_password"], rules.access_ttl_seconds) == (
        5,
        1440,
        900,
    )
