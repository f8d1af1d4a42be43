"""Every use case of auth, built on its ports: by the composition root on the real adapters, by the
unit tests on the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth.application.credentials import Credentials, Streams
from auth.application.jobs import ReconcileCreateUser, ResyncRevocations
from auth.application.keys import PublicKeys, RotateKeys
from auth.application.mail import AccountMail
from auth.application.passwords import (
    ChangePassword,
    CheckSetPasswordLink,
    ForgotPassword,
    NewPassword,
    RequestPasswordChange,
    ResetPassword,
    SetPassword,
    VerifyCode,
)
from auth.application.ports import (
    AuthReads,
    AuthUnitOfWork,
    FailedSignIns,
    MailAllowance,
    Mailer,
    PasswordHasher,
    RevocationList,
    TokenIssuer,
    UserDirectory,
)
from auth.application.rules import AuthRules
from auth.application.sessions import ListSessions, RevokeSession, SignOut
from auth.application.sign_in import Refresh, SignIn
from auth.application.sign_up import Activate, ResendActivation, SignUp
from auth.application.timing import Background
from auth.application.user_events import Access, RevokeAccess, UserEvents


@dataclass(frozen=True, kw_only=True)
class Ports:
    uow: Callable[[], AuthUnitOfWork]
    reads: AuthReads
    hasher: PasswordHasher
    tokens: TokenIssuer
    revocations: RevocationList
    allowance: MailAllowance
    failures: FailedSignIns
    mailer: Mailer
    users: UserDirectory


@dataclass(frozen=True, kw_only=True)
class AuthHandlers:
    sign_up: SignUp
    activate: Activate
    resend_activation: ResendActivation
    sign_in: SignIn
    refresh: Refresh
    list_sessions: ListSessions
    sign_out: SignOut
    revoke_session: RevokeSession
    forgot_password: ForgotPassword
    verify_code: VerifyCode
    reset_password: ResetPassword
    check_set_password_link: CheckSetPasswordLink
    set_password: SetPassword
    request_password_change: RequestPasswordChange
    change_password: ChangePassword
    revoke_access: RevokeAccess
    user_events: UserEvents
    reconcile_create_user: ReconcileCreateUser
    resync_revocations: ResyncRevocations
    rotate_keys: RotateKeys
    public_keys: PublicKeys
    background: Background


def build(
    ports: Ports, streams: Streams, rules: AuthRules, *, consumer: str, now: Callable[[], datetime]
) -> AuthHandlers:
    p = ports
    credentials = Credentials(streams)
    mail = AccountMail(p.mailer, p.allowance, rules.code_minutes)
    background = Background()
    passwords = NewPassword(credentials, p.hasher, now)
    access = Access(credentials)
    sign_out = SignOut(p.uow, credentials, p.revocations)
    return AuthHandlers(
        sign_up=SignUp(p.uow, credentials, p.hasher, p.users, mail, background, rules, now),
        activate=Activate(p.uow, credentials, mail),
        resend_activation=ResendActivation(p.uow, p.reads, credentials, mail, background, rules),
        sign_in=SignIn(p.uow, p.reads, credentials, p.hasher, p.tokens, p.failures, mail, rules, now),
        refresh=Refresh(p.uow, credentials, p.tokens, p.revocations, rules),
        list_sessions=ListSessions(p.reads),
        sign_out=sign_out,
        revoke_session=RevokeSession(p.reads, sign_out),
        forgot_password=ForgotPassword(p.uow, p.reads, credentials, mail, background, rules),
        verify_code=VerifyCode(p.uow),
        reset_password=ResetPassword(p.uow, passwords, p.revocations, mail),
        check_set_password_link=CheckSetPasswordLink(p.uow),
        set_password=SetPassword(p.uow, passwords, p.revocations, mail),
        request_password_change=RequestPasswordChange(p.uow, credentials, mail, rules),
        change_password=ChangePassword(p.uow, passwords, p.revocations, mail),
        revoke_access=RevokeAccess(p.uow, access, p.revocations),
        user_events=UserEvents(p.uow, credentials, access, p.revocations, mail, rules, consumer),
        reconcile_create_user=ReconcileCreateUser(p.reads, p.users, rules),
        resync_revocations=ResyncRevocations(p.reads, p.revocations, rules),
        rotate_keys=RotateKeys(p.tokens),
        public_keys=PublicKeys(p.tokens),
        background=background,
    )
