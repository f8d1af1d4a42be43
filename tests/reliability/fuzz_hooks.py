"""Schemathesis hooks of the fuzz runs, loaded by the schemathesis CLI (``SCHEMATHESIS_HOOKS``) and
configured by the environment tests/reliability/fuzz.py gives it:

* every request carries a valid caller, so the handlers are reached and not just the 401s: straight
  to a service, gateway identity headers signed afresh for each request (they live 30 s); through
  the gateway, a bearer token of a real super admin, signed in at the auth service directly (not
  rate limited). When the fuzzer revokes its own session (sign-out, DELETE of a session), the 401
  that follows makes the next request sign in again;
* each request comes from a client address of its own: ``X-Real-IP`` (which the gateway takes from
  nginx) and ``X-Forwarded-For`` (which the services take from the gateway). Otherwise the per-client
  rate limits turn the run into 429s, and thousands of failed sign-ins from 127.0.0.1 make the auth
  service throttle every other test's sign-ins from that address for minutes;
* ops replays and discards are confined by ``aggregate_id`` so that the shared stack's dead letters —
  other tests' evidence — are neither replayed nor discarded: a discard to a filter that matches
  nothing, a replay to one of the harmless dead letters the run stored for it (FUZZ_REPLAYABLE, in
  turn: a replay of nothing is refused, and a real job is what the links to a job need).

  FUZZ_AUTH=identity|bearer  FUZZ_USER_ID  FUZZ_PERMISSIONS  FUZZ_SESSION_ID  (identity)
  FUZZ_AUTH_URL  FUZZ_EMAIL  FUZZ_PASSWORD                                              (bearer)
  FUZZ_REPLAYABLE  FUZZ_REPLAYABLE_COUNT                   (ops: the stored dead letters' aggregate ids)
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from typing import Any

import httpx
import schemathesis

from blazing_service.identity import Identity, sign

MODE = os.environ.get("FUZZ_AUTH", "identity")
REPLAYS, DISCARDS = ("POST", "/ops/api/replays"), ("POST", "/ops/api/discard")
NOTHING = f"fuzz-matches-nothing-{uuid.uuid4()}"
REPLAYABLE = itertools.cycle(
    [f"{os.environ['FUZZ_REPLAYABLE']}{n}" for n in range(int(os.environ["FUZZ_REPLAYABLE_COUNT"]))]
    if "FUZZ_REPLAYABLE" in os.environ
    else [NOTHING]
)
# Hypothesis reseeds the `random` module for every example: addresses come from the OS instead
ADDRESSES = random.SystemRandom()


def client_address() -> str:
    return f"127.{ADDRESSES.randint(1, 254)}.{ADDRESSES.randint(0, 255)}.{ADDRESSES.randint(1, 254)}"


class Token:
    """The fuzzing account's bearer token, signed in at the auth service directly (not rate limited);
    renewed after 10 min (it lives ~15) and at once after a 401 (the fuzzer revoked its own session:
    sign-out, DELETE of the current session)."""

    value: str | None = None
    issued = 0.0

    @classmethod
    def get(cls) -> str:
        if cls.value is None or time.monotonic() - cls.issued > 600:
            answer = httpx.post(
                f"{os.environ['FUZZ_AUTH_URL']}/api/v1/auth/sign-in",
                json={"email": os.environ["FUZZ_EMAIL"], "password": os.environ["FUZZ_PASSWORD"]},
                headers={"X-Forwarded-For": client_address()},
                timeout=30,
            )
            answer.raise_for_status()
            cls.value, cls.issued = answer.json()["access_token"], time.monotonic()
        return cls.value


def _headers() -> dict[str, str]:
    if MODE == "identity":  # gateway identity headers live 30 s: signed afresh for each request
        identity = Identity(
            user_id=uuid.UUID(os.environ["FUZZ_USER_ID"]),
            permissions=int(os.environ["FUZZ_PERMISSIONS"]),
            session_id=uuid.UUID(os.environ["FUZZ_SESSION_ID"]),
        )
        return sign(identity, os.environ["GATEWAY_IDENTITY_SECRET"])
    return {"Authorization": f"Bearer {Token.get()}"}


# No caching by schemathesis: _headers() is asked for every request (and Token caches itself).
@schemathesis.auth(refresh_interval=None)
class Caller:
    def get(self, case: Any, context: Any) -> dict[str, str]:
        return _headers()

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        case.headers = {**(case.headers or {}), **data}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    sent = (case.headers or {}).get("Authorization", "")
    if response.status_code == 401 and Token.value and sent.endswith(Token.value):
        Token.value = None


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    address = client_address()
    case.headers = {**(case.headers or {}), "X-Real-IP": address, "X-Forwarded-For": address}
    operation = (case.method.upper(), case.operation.path)
    if operation in (REPLAYS, DISCARDS) and isinstance(case.body, dict):
        selection = case.body.get("filter", {})
        if isinstance(selection, dict):
            confined = next(REPLAYABLE) if operation == REPLAYS else NOTHING
            case.body = {**case.body, "filter": {**selection, "aggregate_id": confined}}
