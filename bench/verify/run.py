"""Benchmark the verification HTTP check against the walkthrough's way of checking: a curl loop.

    python bench/verify/run.py [--requests 200,1000] [--repeat 3] [--only command|check]
                               [--concurrency 20] [--server auto|real|fake] [--json]

Two comparisons, each side by side in the same run against the same server on 127.0.0.1:

1. **The whole command** (what a user waits for): ``python -m automation verify dev --front-url URL
   --requests N --json`` in a fresh process - interpreter start, imports, loading ``Pulumi.dev.yaml``,
   the burst and the report - against the walkthrough's ``for i in $(seq N); do curl -s URL/color; done``,
   for each N of ``--requests``. Server: the built-in fake front (``fakefront.py``: blue, red, blue, ...),
   which matches dev's 50/50 weights so the command passes. Runs alternate command and loop
   ``--repeat`` times; the medians are compared. Targets: >= 3x faster than the loop at 200 requests,
   >= 10x at 1,000 (issue "Every bad input gets a clear answer", item 4).
2. **The check alone**: ``check_http`` in-process with N (the largest of ``--requests``) against the
   curl loop, on this repository's real apps (``python -m workloads.runtime.colorapp`` COLOR=blue behind
   ``python -m workloads.runtime.front``) when importable, else the fake. Targets: under 2 s and >= 10x.

Both sides' answers are counted, so they demonstrably did the same work. Prints every figure and
whether each target is met; exits 1 when one is missed or a side saw errors. Nothing outside
127.0.0.1 is contacted; every server started here is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from automation.verify.httpcheck import check_http  # noqa: E402 - needs the repo on sys.path first
from automation.verify.settings import HttpCheckSettings  # noqa: E402

TARGET_WALL_S = 2.0
TARGET_SPEEDUP = 10.0
# Whole command against the curl loop: requests -> speedup it must reach (the largest N <= requests applies).
COMMAND_TARGETS = {200: 3.0, 1000: 10.0}


@dataclass
class Front:
    url: str
    kind: str
    weights: dict[str, int]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready within {timeout_s:g}s")


class Servers:
    """Processes started by the benchmark, each in its own session, stopped by pid at exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: list[str], env: dict[str, str] | None = None, stdout: int = subprocess.DEVNULL
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=stdout, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_real(servers: Servers, python: str) -> Front:
    color_port, front_port = free_port(), free_port()
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOST": "127.0.0.1",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "warning",
    }
    colorapp = servers.start(
        [python, "-m", "workloads.runtime.colorapp"], {**base, "COLOR": "blue", "PORT": str(color_port)}
    )
    wait_ready(f"http://127.0.0.1:{color_port}/color", colorapp)
    front = servers.start(
        [python, "-m", "workloads.runtime.front"],
        {**base, "COLOR_HOST": f"127.0.0.1:{color_port}", "PORT": str(front_port)},
    )
    wait_ready(f"http://127.0.0.1:{front_port}/color", front)
    return Front(
        f"http://127.0.0.1:{front_port}",
        "real apps (workloads.runtime.front -> workloads.runtime.colorapp COLOR=blue)",
        {"blue": 100, "red": 0},
    )


def start_fake(servers: Servers, python: str) -> Front:
    proc = servers.start(
        [python, str(Path(__file__).with_name("fakefront.py")), "--port", "0"], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("PORT "):
        raise RuntimeError(f"fake front did not report its port (got {line!r})")
    url = f"http://127.0.0.1:{int(line.split()[1])}"
    wait_ready(url + "/color", proc)
    return Front(url, "built-in fake front (asyncio, blue/red alternating)", {"blue": 50, "red": 50})


@contextlib.contextmanager
def running_front(mode: str, python: str) -> Iterator[Front]:
    servers = Servers()
    try:
        real_available = all(
            importlib.util.find_spec(m) is not None
            for m in ("workloads.runtime.colorapp", "workloads.runtime.front")
        )
        front: Front | None = None
        if mode in ("auto", "real") and real_available:
            try:
                front = start_real(servers, python)
            except RuntimeError as exc:
                if mode == "real":
                    raise
                print(f"real apps did not start ({exc}); using the built-in fake", file=sys.stderr)
                servers.stop()
                servers = Servers()
        elif mode == "real":
            raise SystemExit("workloads.runtime.colorapp / workloads.runtime.front are not importable")
        yield front or start_fake(servers, python)
    finally:
        servers.stop()


def curl_loop(url: str, n: int) -> tuple[float, Counter[str]]:
    """The walkthrough's check, verbatim in shape: sequential curl in a shell loop."""
    script = f"for i in $(seq {n}); do curl -s {url}; echo; done"
    started = time.perf_counter()
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False, timeout=600)
    wall = time.perf_counter() - started
    answers = Counter(line.strip() for line in out.stdout.splitlines() if line.strip())
    return wall, answers


def command_target(requests: int) -> float | None:
    applicable = [n for n in COMMAND_TARGETS if n <= requests]
    return COMMAND_TARGETS[max(applicable)] if applicable else None


def run_command(python: str, url: str, n: int, concurrency: int) -> tuple[float, dict[str, object]]:
    """The whole `verify --front-url` command in a fresh process: wall time and its JSON report."""
    argv = [python, "-m", "automation", "verify", "dev", "--front-url", url, "--requests", str(n)]
    argv += ["--concurrency", str(concurrency), "--json"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": os.environ.get("HOME", str(REPO)),
    }
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600)
    wall = time.perf_counter() - started
    report: dict[str, object] = json.loads(done.stdout) if done.stdout.strip() else {}
    if done.returncode != 0:
        print(f"command exited {done.returncode}: {done.stderr.strip()[-500:]}", file=sys.stderr)
    return wall, report


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def compare_command(args: argparse.Namespace, sizes: list[int]) -> tuple[list[dict[str, object]], bool]:
    rows: list[dict[str, object]] = []
    all_met = True
    with running_front("fake", args.python) as front:
        color_url = front.url + "/color"
        run_command(args.python, front.url, 20, args.concurrency)  # warm the file cache, compile .pyc
        curl_loop(color_url, 5)
        for n in sizes:
            command_walls: list[float] = []
            curl_walls: list[float] = []
            report: dict[str, object] = {}
            answers: Counter[str] = Counter()
            for _ in range(args.repeat):
                wall, report = run_command(args.python, front.url, n, args.concurrency)
                command_walls.append(wall)
                wall, answers = curl_loop(color_url, n)
                curl_walls.append(wall)
            command_wall, curl_wall = median(command_walls), median(curl_walls)
            speedup = curl_wall / command_wall if command_wall > 0 else float("inf")
            target = command_target(n)
            ok = report.get("ok") is True and sum(answers.values()) == n
            met = ok and (target is None or speedup >= target)
            all_met = all_met and met
            rows.append(
                {
                    "requests": n,
                    "command_wall_s": round(command_wall, 3),
                    "curl_wall_s": round(curl_wall, 3),
                    "speedup": round(speedup, 2),
                    "target": target,
                    "command_ok": report.get("ok"),
                    "curl_answers": dict(answers),
                    "met": met,
                }
            )
            goal = f">= {target:g}x" if target is not None else "no target"
            print(
                f"command vs curl, {n:>5} requests: {command_wall:.3f} s vs {curl_wall:.3f} s "
                f"(medians of {args.repeat}) = {speedup:.1f}x; target {goal}: {'met' if met else 'MISSED'}"
                + ("" if report.get("ok") is True else " (the command's verdict was FAIL)")
            )
    return rows, all_met


def compare_check(args: argparse.Namespace, n: int) -> tuple[dict[str, object], bool]:
    with running_front(args.server, args.python) as front:
        color_url = front.url + "/color"
        settings = HttpCheckSettings(requests=n, concurrency=args.concurrency)
        # Warm both paths once (imports, first connections) so neither side pays start-up costs.
        check_http(front.url, front.weights, HttpCheckSettings(requests=20, concurrency=args.concurrency))
        curl_loop(color_url, 5)
        started = time.perf_counter()
        result, stats = check_http(front.url, front.weights, settings)
        check_wall = time.perf_counter() - started
        curl_wall, curl_answers = curl_loop(color_url, n)
    speedup = curl_wall / check_wall if check_wall > 0 else float("inf")
    curl_ok = sum(curl_answers.values()) == n
    wall_met = check_wall < TARGET_WALL_S
    speed_met = speedup >= TARGET_SPEEDUP
    print(f"check alone, server {front.kind}:")
    print(f"  requests:        {n} (check concurrency {args.concurrency}; curl loop sequential)")
    print(
        f"  HTTP check:      {check_wall:.3f} s wall, {stats.errors} errors, p50 {stats.p50_ms} ms, "
        f"p99 {stats.p99_ms} ms, shares {dict(stats.shares)}, verdict {'PASS' if result.ok else 'FAIL'}"
    )
    print(f"  curl loop:       {curl_wall:.3f} s wall, answers {dict(curl_answers)}")
    print(f"  speedup:         {speedup:.1f}x")
    print(f"  target < {TARGET_WALL_S:g} s:    {'met' if wall_met else 'MISSED'} ({check_wall:.3f} s)")
    print(f"  target >= {TARGET_SPEEDUP:g}x:   {'met' if speed_met else 'MISSED'} ({speedup:.1f}x)")
    row: dict[str, object] = {
        "server": front.kind,
        "requests": n,
        "concurrency": args.concurrency,
        "check_wall_s": round(check_wall, 4),
        "curl_wall_s": round(curl_wall, 4),
        "speedup": round(speedup, 2),
        "check": stats.to_dict(),
        "check_ok": result.ok,
        "curl_answers": dict(curl_answers),
        "targets_met": wall_met and speed_met,
    }
    return row, wall_met and speed_met and result.ok and curl_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", default="200,1000", help="comma-separated request counts")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side per count (medians)")
    parser.add_argument("--only", choices=("command", "check"), help="run one of the two comparisons")
    parser.add_argument(
        "--server", choices=("auto", "real", "fake"), default="auto", help="for the check alone"
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter for the servers and the command"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the comparison")
    sizes = sorted({int(n) for n in args.requests.split(",") if n.strip()})

    results: dict[str, object] = {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())}
    ok = True
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    if args.only in (None, "command"):
        rows, met = compare_command(args, sizes)
        results["command"] = rows
        ok = ok and met
    if args.only in (None, "check"):
        row, met = compare_check(args, max(sizes))
        results["check"] = row
        ok = ok and met
    if args.json:
        print(json.dumps(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
