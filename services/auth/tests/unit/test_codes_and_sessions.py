"""The rules of one-time codes and refresh tokens: Given what the store holds, When presented, Then
the verdict."""

from __future__ import annotations

import uuid

import pytest

from auth.domain import codes as dc
from auth.domain import sessions as ds

OWNER = uuid.uuid4()


def code(purpose: str = "forgot_password", *, usable: bool = True, owner: uuid.UUID = OWNER) -> dc.Code:
    return dc.Code(owner=owner, purpose=purpose, usable=usable)


def test_a_usable_code_of_the_right_kind_is_taken() -> None:
    assert dc.judge(code(), dc.VERIFIABLE) == code()
    assert dc.judge(code("must_set_password"), ("must_set_password",), owner=OWNER).owner == OWNER


@pytest.mark.parametrize(
    ("found", "owner", "error"),
    [
        (None, None, dc.UnknownCode),
        (code(), uuid.uuid4(), dc.UnknownCode),  # someone else's is not found
        (code(usable=False), None, dc.SpentCode),
        (code("activation"), None, dc.WrongKindOfCode),
        # the original's order: a spent code of the wrong kind is "spent", another's spent one "unknown"
        (code("activation", usable=False), None, dc.SpentCode),
        (code("activation", usable=False), uuid.uuid4(), dc.UnknownCode),
    ],
)
def test_codes_are_refused_in_the_originals_order(
    found: dc.Code | None, owner: uuid.UUID | None, error: type[dc.CodeError]
) -> None:
    with pytest.raises(error):
        dc.judge(found, dc.VERIFIABLE, owner)


def test_verify_hash_checks_reset_and_change_codes_only() -> None:
    assert set(dc.VERIFIABLE) == {"forgot_password", "password_change"}


def token(**changes: bool) -> ds.RefreshToken:
    fields = {"rotated": False, "session_revoked": False, "session_expired": False, **changes}
    return ds.RefreshToken(session_id=uuid.uuid4(), user_id=OWNER, **fields)


@pytest.mark.parametrize(
    ("found", "verdict"),
    [
        (token(), "rotate"),
        (None, "invalid"),
        (token(rotated=True), "reused"),
        (token(rotated=True, session_revoked=True), "reused"),  # a leaked copy shown after the revocation
        (token(session_revoked=True), "invalid"),
        (token(session_expired=True), "invalid"),
    ],
)
def test_a_refresh_token_rotates_once_and_its_reuse_is_detected(found: ds.RefreshToken | None, verdict: str) -> None:
    assert ds.judge_refresh(found) == verdict


def test_sign_out_scopes() -> None:
    current = uuid.uuid4()
    assert ds.signing_out("session", current) == ds.Selection(only=current)
    assert ds.signing_out("others", current) == ds.Selection(keep=current)
    assert ds.signing_out("all", current) == ds.Selection()
