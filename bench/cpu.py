"""CPU per request for every process of the stack, from /proc, while wrk drives a URL (SPEC §10).

CPU time is far steadier than requests per second on a shared 2-core machine: a component's CPU
per request barely moves when something else competes for the cores, its throughput does.

    .venv/bin/python bench/cpu.py URL [-H 'Name: value'] [--script post.lua] [--seconds 10]
                                      [--connections 64] [--label read]

A component is a process the stack started (var/run/*.pid, PostgreSQL's postmaster) with every
process under it: PostgreSQL's backends, nginx's workers, RabbitMQ's Erlang VM. Its CPU over the run
is its processes' user + system time, plus what children that ended during the run left in their
parent's ``cutime``/``cstime``. ``other`` is the rest of the machine's busy time (wrk included,
reported apart). Results: bench/results/cpu-<label>.json. Other benches use ``CpuMeter`` and
``wrk`` from here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "var" / "run"
RESULTS = REPO / "bench" / "results"
TICK = os.sysconf("SC_CLK_TCK")
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, own ticks, ticks of reaped children) of a process, or None when it is gone."""
    try:
        raw = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    ppid, utime, stime, cutime, cstime = (
        int(fields[1]),
        int(fields[11]),
        int(fields[12]),
        int(fields[13]),
        int(fields[14]),
    )
    return ppid, utime + stime, cutime + cstime


def _processes() -> dict[int, tuple[int, int, int]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            out[int(entry)] = stat
    return out


def components() -> dict[str, int]:
    """Each component of the running stack and the pid at the root of its processes."""
    roots: dict[str, int] = {}
    for pidfile in sorted(RUN.glob("*.pid")):
        name = pidfile.stem
        if name in ("rabbitmq.beam", "dockerd", "dockerd.self"):
            continue
        try:
            roots[name] = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    postmaster = REPO / "var" / "postgres" / "data" / "postmaster.pid"
    if postmaster.exists():
        roots["postgres"] = int(postmaster.read_text().split()[0])
    return roots


def _ticks(roots: dict[str, int], procs: dict[int, tuple[int, int, int]]) -> dict[str, int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _own, _reaped) in procs.items():
        children.setdefault(ppid, []).append(pid)
    totals = {}
    for name, root in roots.items():
        if root not in procs:
            continue
        total, stack = procs[root][2], [root]  # what the root reaped, then every live process under it
        while stack:
            pid = stack.pop()
            total += procs[pid][1]
            stack.extend(children.get(pid, []))
        totals[name] = total
    return totals


def _busy_ticks() -> int:
    """The machine's busy time: every CPU's ticks but idle and iowait."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    return sum(values) - values[3] - values[4]


@dataclass
class CpuMeter:
    """``with meter.measure(): …`` then ``meter.ms`` — CPU milliseconds per component."""

    roots: dict[str, int] = field(default_factory=components)
    ms: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    idle_ms_per_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self) -> Iterator[None]:
        before, busy, start = _ticks(self.roots, _processes()), _busy_ticks(), time.monotonic()
        yield
        after, busy_after = _ticks(self.roots, _processes()), _busy_ticks()
        self.seconds = time.monotonic() - start
        to_ms = 1000 / TICK
        self.ms = {n: (after[n] - before[n]) * to_ms for n in after if n in before}
        self.ms["other"] = max(0.0, (busy_after - busy) * to_ms - sum(self.ms.values()))

    def idle(self, seconds: float = 5.0) -> None:
        """Each component's CPU per second with no load of ours, just before a run: its
        background (health checks, scrapes, polls, and on a shared machine the others' tests),
        which ``per_request(net=True)`` takes off."""
        with self.measure():
            time.sleep(seconds)
        self.idle_ms_per_s = {n: v / self.seconds for n, v in self.ms.items() if n != "other"}
        self.ms = {}

    def per_request(self, requests: int, *, net: bool = False) -> dict[str, float]:
        """CPU ms per request by component (largest first), with the stack's total (``other``
        left out of it: wrk and whatever else the machine was doing); ``net``: less each
        component's idle rate (``idle``) over the run, never below 0."""
        if requests <= 0:
            return {}
        ms = dict(self.ms)
        if net:
            ms = {n: max(0.0, v - self.idle_ms_per_s.get(n, 0.0) * self.seconds) for n, v in ms.items()}
        rows = {n: round(v / requests, 3) for n, v in sorted(ms.items(), key=lambda kv: -kv[1]) if v > 0}
        rows["stack_total"] = round(sum(v for n, v in ms.items() if n != "other") / requests, 3)
        return rows


def wrk(
    url: str,
    headers: dict[str, str] | None = None,
    seconds: float = 10,
    connections: int = 64,
    script: str | None = None,
    threads: int = 2,
) -> dict[str, float]:
    """One wrk run: 2xx answers per second (a fast 429 or 503 is not throughput), p50 / p99 and
    the count of requests it made."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if not (total and p50 and p99):
        raise RuntimeError(f"wrk said:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    failed = int(non2xx.group(1)) if non2xx else 0
    elapsed = float(total.group(2)) * UNITS[total.group(3)] / 1000
    return {
        "requests": int(total.group(1)),
        "req_per_s": round((int(total.group(1)) - failed) / elapsed, 1),
        "p50_ms": float(p50.group(1)) * UNITS[p50.group(2)],
        "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)],
        "non_2xx": failed,
        "socket_errors": errors.group(0) if errors else "",
    }


def measured(url: str, idle_seconds: float = 5.0, **options: object) -> dict[str, object]:
    """A wrk run with the CPU per request of every component of the stack, as measured and net
    of the components' idle rate measured just before (``idle_seconds``)."""
    meter = CpuMeter()
    meter.idle(idle_seconds)
    with meter.measure():
        result = wrk(url, **options)  # type: ignore[arg-type]
    return {**result, **cpu_fields(meter, int(result["requests"]))}


def cpu_fields(meter: CpuMeter, requests: int) -> dict[str, object]:
    return {
        "cpu_ms_per_request": meter.per_request(requests),
        "cpu_net_ms_per_request": meter.per_request(requests, net=True),
        "idle_ms_per_s": {n: round(v, 1) for n, v in meter.idle_ms_per_s.items()},
    }


def table(cpu: dict[str, float]) -> str:
    return "  ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())


def print_rows(rows: list[tuple[str, dict[str, object]]], unit: str) -> None:
    """Each summary row's rate, p99 and CPU per request (raw and net of idle), then its per-component CPU."""
    for label, row in rows:
        cpu, net = row["cpu_ms_per_request"], row["cpu_net_ms_per_request"]
        assert isinstance(cpu, dict)
        assert isinstance(net, dict)
        rate, p99 = row["req_per_s"], row["p99_ms"]
        print(
            f"{label:26} {rate:7.0f}/s  p99 {p99:6.1f} ms  CPU {cpu['stack_total']:.2f} ms/{unit}"
            f" (net of idle {net['stack_total']:.2f})"
        )
    for label, row in rows:
        print(f"  CPU ms/{unit} {label}: {table(row['cpu_ms_per_request'])}")  # type: ignore[arg-type]
        print(f"    net of idle: {table(row['cpu_net_ms_per_request'])}")  # type: ignore[arg-type]


def arguments(**options: float | bool) -> argparse.Namespace:
    """A bench's command line: ``--name`` for each option with its default (its type: int, float, or
    a flag for False), and ``--repeat`` (3 runs, the medians printed)."""
    parser = argparse.ArgumentParser()
    for name, default in {**options, "repeat": 3}.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=type(default), default=default)
    return parser.parse_args()


def save(result: dict[str, object], name: str) -> None:
    """Writes bench/results/NAME.json and says so."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(f"saved bench/results/{name}.json")


def summary(runs: list[dict[str, object]]) -> dict[str, object]:
    """Medians of repeated ``measured`` runs: 2xx per second, p99, and CPU ms per request for each
    component (a component missing from a run counts 0 there), with the runs themselves."""
    valid = [r for r in runs if _failed(r) <= 0.01 * int(r["requests"])]  # type: ignore[call-overload]
    if len(valid) < len(runs):  # a service restarted by someone else mid-run: not its figure
        left_out = len(runs) - len(valid)
        print(f"  {left_out} of {len(runs)} runs left out of the medians: over 1% failed (not 2xx, socket errors)")
    runs_all, runs = runs, valid or runs
    return {
        "req_per_s": statistics.median(float(r["req_per_s"]) for r in runs),  # type: ignore[arg-type]
        "p99_ms": statistics.median(float(r["p99_ms"]) for r in runs),  # type: ignore[arg-type]
        "cpu_ms_per_request": _median_cpu([r["cpu_ms_per_request"] for r in runs]),  # type: ignore[misc]
        "cpu_net_ms_per_request": _median_cpu([r.get("cpu_net_ms_per_request", {}) for r in runs]),  # type: ignore[misc]
        "runs": runs_all,
        "runs_in_medians": len(runs),
    }


def _failed(run: dict[str, object]) -> int:
    """Answers that were not 2xx plus wrk's socket errors (connect, read, write, timeout)."""
    errors = sum(int(n) for n in re.findall(r"\w+ (\d+)", str(run.get("socket_errors", ""))))
    return int(run["non_2xx"]) + errors  # type: ignore[call-overload]


def _median_cpu(cpu_runs: list[dict[str, float]]) -> dict[str, float]:
    names = {n for c in cpu_runs for n in c}
    cpu = {n: statistics.median(c.get(n, 0.0) for c in cpu_runs) for n in names}
    ordered = dict(sorted(((n, round(v, 3)) for n, v in cpu.items() if n != "stack_total"), key=lambda kv: -kv[1]))
    return {**ordered, "stack_total": round(cpu.get("stack_total", 0.0), 3)}


def percentiles(lags: list[float]) -> dict[str, float]:
    """The p50 and p99 of sorted ``lags`` in milliseconds, to a tenth."""
    return {"p50_ms": round(lags[len(lags) // 2], 1), "p99_ms": round(lags[int(len(lags) * 0.99)], 1)}


def latency_medians(runs: list[dict[str, float]]) -> dict[str, object]:
    """The medians of repeated latency runs' p50 and p99, with the runs themselves."""
    return {
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "runs": runs,
    }


def ratio(ours: float, theirs: float | None) -> float | None:
    return round(ours / theirs, 2) if theirs else None


def beside_original(
    ours: dict[str, list[dict[str, object]]], original: list[dict[str, object]]
) -> tuple[dict[str, dict[str, object]], dict[str, object] | None, dict[str, float | None]]:
    """Each named set of our runs summarised, the original app's runs summarised (None when it did
    not run), and the ratio of each of ours to the original's rate."""
    summaries = {name: summary(runs) for name, runs in ours.items()}
    theirs = summary(original) if original else None
    rate = float(theirs["req_per_s"]) if theirs else None  # type: ignore[arg-type]
    ratios = {name: ratio(float(s["req_per_s"]), rate) for name, s in summaries.items()}  # type: ignore[arg-type]
    return summaries, theirs, ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("-H", "--header", action="append", default=[])
    parser.add_argument("--script")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--label", default="run")
    args = parser.parse_args()
    headers = dict(h.split(":", 1) for h in args.header)
    result = measured(
        args.url,
        headers={k.strip(): v.strip() for k, v in headers.items()},
        seconds=args.seconds,
        connections=args.connections,
        script=args.script,
    )
    cpu, net = result["cpu_ms_per_request"], result["cpu_net_ms_per_request"]
    assert isinstance(cpu, dict)
    assert isinstance(net, dict)
    print(f"{args.label}: {result['req_per_s']} req/s, p99 {result['p99_ms']} ms, CPU ms/request: {table(cpu)}")
    print(f"  net of each component's idle rate: {table(net)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"cpu-{args.label}.json"
    out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "url": args.url, **result}, indent=2))
    print(f"saved {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()


@contextmanager
def gateway_unlimited() -> Iterator[None]:
    """The gateway restarted with its per-client rate limit lifted (a bench measures capacity, not
    the limit), and restarted as configured afterwards."""
    from blazing_testing import control  # noqa: PLC0415 - the stack's control, only for the benches that drive it

    control("stop", "svc-gateway")
    control("start", "svc-gateway", env={"GATEWAY_RATE_LIMIT": "100000000"})
    try:
        yield
    finally:
        control("stop", "svc-gateway")
        control("start", "svc-gateway")
