"""Schemathesis against every service's OpenAPI (straight to the service) and the gateway's merged
one (through the gateway), with request bodies, headers and links added to the loaded document
(fuzz_schema.py), a valid super-admin caller on every request (fuzz_hooks.py) and the checks of
schemathesis.toml.

    .venv/bin/python tests/reliability/fuzz.py [--seed N] [--examples 100] [--targets ledger,gateway]
                                                                                       (make fuzz)

``make fuzz``: a random seed (printed first; FUZZ_SEED=… repeats a run), FUZZ_EXAMPLES (100, ten
times test_fuzz.py's) cases per operation in the fuzzing phase, FUZZ_SCENARIOS (100) stateful
scenarios along the links (about 4 minutes in all); FUZZ_TARGETS picks targets. A request that takes
over 10 s is a failure (a hang); a target whose run does not end within FUZZ_MAX_TIME seconds (3600)
is stopped and failed. Exits non-zero on any failure and prints each distinct one with a curl
command that repeats it; the reports stay in var/fuzz/<seed>/.

``make test`` (test_fuzz.py) runs the same derandomized: a fixed seed, few cases.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import random
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from blazing_contracts.topology import DEAD_LETTER_TOPIC, SYSTEM_EVENTS
from blazing_service.identity import SUPER_ADMIN
from blazing_testing import REPO_ROOT, stack_env
from blazing_testing.accounts import PASSWORD, admin_account
from blazing_testing.kafka import produce
from blazing_testing.ops import dead_letter_record, stored_dead_letters

sys.path.insert(0, str(Path(__file__).parent))
import fuzz_schema

HERE = Path(__file__).parent
ENV = stack_env()
SERVICES_WITH_AN_API = ("auth", "users", "ledger", "mailer", "files", "ops")  # web: pages only, no operations
TARGETS = (*SERVICES_WITH_AN_API, "gateway")
PHASES = "examples,coverage,fuzzing,stateful"
CI_SEED = 20261201  # make test: always the same cases
CI_EXAMPLES = 10


@dataclass(frozen=True)
class Caller:
    """The fuzzing account: a real, activated super admin."""

    email: str
    user_id: str
    session_id: str


@dataclass
class Outcome:
    target: str
    seed: int
    returncode: int
    seconds: float
    report: dict[str, Any]
    failures: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and not self.failures


async def _new_caller() -> Caller:
    # a client address of its own: the auth service throttles sign-ins per address (X-Forwarded-For)
    address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    async with httpx.AsyncClient(timeout=30, headers={"X-Forwarded-For": address}) as client:
        email, session = await admin_account(client, base=f"http://127.0.0.1:{ENV['AUTH_PORT']}")
    return Caller(email=email, user_id=session["user"]["id"], session_id=session["session_id"])


def new_caller() -> Caller:
    """A fresh fuzzing account (each run starts from an empty ledger, no files, one session). In a
    thread of its own: callers may be inside an event loop (pytest) or not (the command line)."""
    for attempt in range(3):  # a shared stack: a service may be restarting at this very moment
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, _new_caller()).result()
        except (httpx.HTTPError, AssertionError, TimeoutError):
            if attempt == 2:
                raise
            time.sleep(10)
    raise AssertionError("unreachable")


def wait_until_up(target: str, within: float = 120) -> None:
    """The target (and auth, which makes the account) answer /health: a run starts on a stack that is
    up, so that what it finds is about inputs, not about a service that was restarting."""
    deadline = time.monotonic() + within
    for base in {base_of(target), base_of("auth")}:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base} is not up")
            time.sleep(2)


def base_of(target: str) -> str:
    port = ENV["APP_PORT"] if target == "gateway" else ENV[f"{target.upper()}_PORT"]
    return f"http://127.0.0.1:{port}"


def document_of(target: str, caller: Caller) -> dict[str, Any]:
    path = "/api/docs/openapi.json" if target == "gateway" else "/schema/openapi.json"
    answer = httpx.get(base_of(target) + path, timeout=30)
    answer.raise_for_status()
    loaded: dict[str, Any] = answer.json()
    return fuzz_schema.completed(loaded, fuzz_schema.sign_in_links(caller.email, PASSWORD))


REPLAYABLE = 30
"""Dead letters stored for a run's replays, each replayable three times (then quarantined)."""


async def _replayable(prefix: str) -> None:
    records = [
        dead_letter_record(SYSTEM_EVENTS, "fuzz", n, instance=f"{prefix}{n}")  # nothing consumes system.events
        for n in range(REPLAYABLE)
    ]
    await produce(ENV.kafka_bootstrap, DEAD_LETTER_TOPIC, records)
    await stored_dead_letters(ENV, "aggregate_id LIKE %s", (f"{prefix}%",), count=REPLAYABLE, within=60)


def replayable_dead_letters() -> str:
    """Stores harmless dead letters for a run that reaches the ops API: its replays are confined to
    them (a replay that matches nothing is refused, and the links to a job need one); their common
    prefix of ``aggregate_id``."""
    prefix = f"fuzz-{random.SystemRandom().getrandbits(64):016x}-"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _replayable(prefix)).result()
    return prefix


def hooks_env(target: str, caller: Caller) -> dict[str, str]:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "fuzz_hooks.py")}
    if target in ("ops", "gateway"):
        env |= {"FUZZ_REPLAYABLE": replayable_dead_letters(), "FUZZ_REPLAYABLE_COUNT": str(REPLAYABLE)}
    if target == "gateway":
        env |= {
            "FUZZ_AUTH": "bearer",
            "FUZZ_AUTH_URL": base_of("auth"),
            "FUZZ_EMAIL": caller.email,
            "FUZZ_PASSWORD": PASSWORD,
        }
    else:
        env |= {
            "FUZZ_AUTH": "identity",
            "FUZZ_USER_ID": caller.user_id,
            "FUZZ_SESSION_ID": caller.session_id,
            "FUZZ_PERMISSIONS": str(SUPER_ADMIN),
            "GATEWAY_IDENTITY_SECRET": ENV["GATEWAY_IDENTITY_SECRET"],
        }
    return env


def run_target(
    target: str,
    *,
    seed: int,
    examples: int,
    deterministic: bool,
    max_time: float,
    workdir: Path,
    scenarios: int,
    phases: str = PHASES,
) -> Outcome:
    """One schemathesis run against ``target``: ``examples`` cases per operation in each of the
    examples, coverage and fuzzing phases, then ``scenarios`` stateful scenarios along the links."""
    workdir.mkdir(parents=True, exist_ok=True)
    wait_until_up(target)
    caller = new_caller()
    schema = workdir / f"{target}.openapi.json"
    schema.write_text(json.dumps(document_of(target, caller), indent=1))
    config = workdir / f"{target}.schemathesis.toml"
    # the committed settings, plus the stateful phase's own budget (the CLI has one for all phases)
    config.write_text(
        (HERE / "schemathesis.toml").read_text() + f"\n[phases.stateful.generation]\nmax-examples = {scenarios}\n"
    )
    ndjson, report = workdir / f"{target}.ndjson", workdir / f"{target}.json"
    for stale in (ndjson, report):  # an earlier run's, which a crashed run would otherwise be read as
        stale.unlink(missing_ok=True)
    args = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        base_of(target),
        "--seed",
        str(seed),
        "--max-examples",
        str(examples),
        "--phases",
        phases,
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        "--continue-on-failure",
        "--no-color",
        "--report",
        "ndjson,json",
        "--report-ndjson-path",
        str(ndjson),
        "--report-json-path",
        str(report),
        *(["--generation-deterministic"] if deterministic else []),
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO_ROOT,
            env=hooks_env(target, caller),
            timeout=max_time,
        )
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        output = f"STOPPED: the run did not end within {max_time:.0f} s (a hang, or raise FUZZ_MAX_TIME)\n{partial}"
    seconds = time.monotonic() - started
    (workdir / f"{target}.log").write_text(output)
    loaded = json.loads(report.read_text()) if report.exists() else {}
    failures = failures_of(ndjson, bearer=target == "gateway")
    return Outcome(target, seed, returncode, seconds, loaded, failures, output, statuses_of(ndjson))


def _interactions(ndjson: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
    """(phase, case, interaction, checks) of every request of a run, from its NDJSON report."""
    if not ndjson.exists():
        return
    for line in ndjson.read_text().splitlines():
        try:
            scenario = json.loads(line).get("ScenarioFinished")
        except json.JSONDecodeError:  # the last line of a run that was stopped
            continue
        if not scenario or not scenario.get("recorder"):
            continue
        recorder = scenario["recorder"]
        for case_id, interaction in (recorder.get("interactions") or {}).items():
            case = recorder["cases"][case_id]["value"]
            yield scenario["phase"], case, interaction, (recorder.get("checks") or {}).get(case_id, [])


def statuses_of(ndjson: Path) -> dict[str, Counter[int]]:
    """How often each operation ("METHOD /path") answered each status, over the whole run."""
    found: dict[str, Counter[int]] = {}
    for _, case, interaction, _ in _interactions(ndjson):
        if interaction.get("response"):
            label = f"{case['method']} {case['path']}"
            found.setdefault(label, Counter())[interaction["response"]["status_code"]] += 1
    return found


# the fuzzer's credentials (placeholders in the curl) and client addresses (fuzz_hooks.py)
NOT_REPEATED = {"authorization", "x-identity", "x-identity-signature", "x-real-ip", "x-forwarded-for"}


def curl(interaction: dict[str, Any], *, bearer: bool) -> str:
    """A command that repeats the request: the fuzzer's credentials become $TOKEN (through the
    gateway) or $XID / $XSIG (identity headers straight to a service)."""
    request = interaction["request"]
    parts = ["curl", "-s", "-X", request["method"]]
    if bearer:
        parts += ["-H", '"Authorization: Bearer $TOKEN"']
    else:
        parts += ["-H", '"x-identity: $XID"', "-H", '"x-identity-signature: $XSIG"']
    for name, values in (request.get("headers") or {}).items():
        if name.lower() not in NOT_REPEATED:
            parts += ["-H", shlex.quote(f"{name}: {values[0]}")]
    body = base64.b64decode(request["body"]["$base64"]) if request.get("body") else None
    if body is not None:
        try:
            parts += ["--data-raw", shlex.quote(body.decode())]
        except UnicodeDecodeError:
            parts = ["echo", base64.b64encode(body).decode(), "| base64 -d |", *parts, "--data-binary", "@-"]
    return " ".join([*parts, shlex.quote(request["uri"])])


def _text_of(response: dict[str, Any]) -> str:
    content = base64.b64decode((response.get("content") or {}).get("$base64", ""))
    media = ((response.get("headers") or {}).get("content-type") or [""])[0]
    if content and not ("json" in media or media.startswith("text/")):
        return f"<{len(content)} bytes of {media or 'no Content-Type'}>"
    return content.decode("utf-8", "replace")


def failures_of(ndjson: Path, *, bearer: bool) -> list[dict[str, Any]]:
    """Each distinct failure of a run (operation, check, status, request, response, curl)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for phase, case, interaction, checks in _interactions(ndjson):
        failed = {check["name"] for check in checks if check["status"] != "success"}
        for check in checks:
            if check["status"] == "success":
                continue
            if check["name"] == "status_code_conformance" and "not_a_server_error" in failed:
                continue  # a 5xx is undocumented too: the same failure, reported once
            failure = (check.get("failure_info") or {}).get("failure") or {}
            operation = failure.get("operation") or f"{case['method']} {case['path']}"
            response = interaction.get("response") or {}
            text = _text_of(response)
            key = (operation, failure.get("code", check["name"]), failure.get("message", ""))
            found.setdefault(
                key,
                {
                    "operation": operation,
                    "check": check["name"],
                    "code": failure.get("code", ""),
                    "title": failure.get("title", check["name"]),
                    "message": failure.get("message", ""),
                    "phase": phase,
                    "at": datetime.fromtimestamp(interaction.get("timestamp", 0), UTC).strftime("%H:%M:%S"),
                    "status": response.get("status_code"),
                    "response": text[:2000],
                    "curl": curl(interaction, bearer=bearer),
                },
            )
    return list(found.values())


def summary(outcomes: list[Outcome]) -> str:
    lines = []
    for o in outcomes:
        tested = (o.report.get("test_cases") or {}).get("generated", "?")
        state = "ok" if o.passed else f"FAILED (exit {o.returncode}, {len(o.failures)} distinct failures)"
        lines.append(f"{o.target:8} {tested:>6} cases {o.seconds:7.1f} s  {state}")
        for error in o.report.get("errors") or []:
            lines.append(f"  - error: {error['title']} ({error['count']} times)")
        if o.returncode and not o.failures and not o.report.get("errors"):
            lines += [f"    {line}" for line in o.output.strip().splitlines()[-15:]]
        for f in o.failures:
            lines.append(f"  - {f['operation']}  {f['code']} {f['title']} → {f['status']} ({f['phase']}, {f['at']})")
            if f["message"]:
                lines += [f"    {line}" for line in f["message"].splitlines()]
            lines.append(f"    {f['curl']}")
            if f["response"]:
                lines.append(f"    response: {f['response'][:300]}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED") or random.randrange(2**32)))
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", "100")))
    parser.add_argument("--scenarios", type=int, default=int(os.environ.get("FUZZ_SCENARIOS", "100")))
    parser.add_argument("--max-time", type=float, default=float(os.environ.get("FUZZ_MAX_TIME", "3600")))
    parser.add_argument("--targets", default=os.environ.get("FUZZ_TARGETS", ",".join(TARGETS)))
    args = parser.parse_args()
    print(
        f"fuzz seed {args.seed} (repeat with FUZZ_SEED={args.seed}): {args.examples} examples per operation and"
        f" phase, {args.scenarios} stateful scenarios, at most {args.max_time:.0f} s per target",
        flush=True,
    )
    workdir = REPO_ROOT / "var" / "fuzz" / str(args.seed)
    outcomes = []
    for target in args.targets.split(","):
        try:
            outcome = run_target(
                target,
                seed=args.seed,
                examples=args.examples,
                deterministic=False,
                max_time=args.max_time,
                workdir=workdir,
                scenarios=args.scenarios,
            )
        except (httpx.HTTPError, TimeoutError, AssertionError) as exc:  # the stack, not an input
            outcome = Outcome(target, args.seed, -2, 0.0, {}, output=f"could not start: {exc!r}")
        print(summary([outcome]), flush=True)
        outcomes.append(outcome)
    (workdir / "summary.txt").write_text(summary(outcomes) + "\n")
    failed = [o.target for o in outcomes if not o.passed]
    print(f"fuzz seed {args.seed}: {'FAILED: ' + ', '.join(failed) if failed else 'passed'} (reports in {workdir})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
