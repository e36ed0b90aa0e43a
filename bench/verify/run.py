"""Benchmark the verification HTTP check against the walkthrough's way of checking: a curl loop.

    python bench/verify/run.py [--requests 1000] [--concurrency 20] [--server auto|real|fake] [--json]

Starts a front on 127.0.0.1 - this repository's real apps (``python -m workloads.runtime.colorapp`` with
COLOR=blue behind ``python -m workloads.runtime.front``) when they are importable, otherwise (or with
``--server fake``) the built-in fast fake in ``fakefront.py`` that alternates blue and red - then, in
the same run and against the same URL:

1. the HTTP check: ``check_http`` with N requests at bounded concurrency, judged against the weights
   (real apps: blue=100, red=0, since one front talks to one colorapp; fake: blue=50, red=50);
2. the walkthrough's way: ``for i in $(seq N); do curl -s http://127.0.0.1:PORT/color; done``,
   whose answers are counted too, so both sides demonstrably did the same work.

Prints both wall times, the speedup and whether the targets are met: the HTTP check finishes in
under 2 s, and at least 10x faster than the curl loop. Exits 1 when a target is missed or a side
saw errors. Nothing outside 127.0.0.1 is contacted; every server started here is stopped.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--server", choices=("auto", "real", "fake"), default="auto")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the comparison")

    with running_front(args.server, args.python) as front:
        color_url = front.url + "/color"
        # Warm both paths once (imports, first connections) so neither side pays start-up costs.
        check_http(front.url, front.weights, HttpCheckSettings(requests=20, concurrency=args.concurrency))
        curl_loop(color_url, 5)

        started = time.perf_counter()
        result, stats = check_http(
            front.url, front.weights, HttpCheckSettings(requests=args.requests, concurrency=args.concurrency)
        )
        check_wall = time.perf_counter() - started
        curl_wall, curl_answers = curl_loop(color_url, args.requests)

    speedup = curl_wall / check_wall if check_wall > 0 else float("inf")
    curl_ok = sum(curl_answers.values()) == args.requests
    wall_met = check_wall < TARGET_WALL_S
    speed_met = speedup >= TARGET_SPEEDUP
    print(f"server:            {front.kind}")
    print(f"requests:          {args.requests} (check concurrency {args.concurrency}; curl loop sequential)")
    print(
        f"HTTP check:        {check_wall:.3f} s wall, {stats.errors} errors, p50 {stats.p50_ms} ms, "
        f"p99 {stats.p99_ms} ms, shares {dict(stats.shares)}, verdict {'PASS' if result.ok else 'FAIL'}"
    )
    print(f"curl loop:         {curl_wall:.3f} s wall, answers {dict(curl_answers)}")
    print(f"speedup:           {speedup:.1f}x")
    print(f"target < {TARGET_WALL_S:g} s:      {'met' if wall_met else 'MISSED'} ({check_wall:.3f} s)")
    print(f"target >= {TARGET_SPEEDUP:g}x:     {'met' if speed_met else 'MISSED'} ({speedup:.1f}x)")
    if args.json:
        print(
            json.dumps(
                {
                    "server": front.kind,
                    "requests": args.requests,
                    "concurrency": args.concurrency,
                    "check_wall_s": round(check_wall, 4),
                    "curl_wall_s": round(curl_wall, 4),
                    "speedup": round(speedup, 2),
                    "check": stats.to_dict(),
                    "check_ok": result.ok,
                    "curl_answers": dict(curl_answers),
                    "targets_met": wall_met and speed_met,
                }
            )
        )
    return 0 if wall_met and speed_met and result.ok and curl_ok else 1


if __name__ == "__main__":
    sys.exit(main())
