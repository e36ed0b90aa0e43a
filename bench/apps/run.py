"""Benchmark colorapp and front against the Flask + gunicorn apps of the App Mesh walkthrough.

    python bench/apps/run.py --upstream-dir DIR [--runs 3] [--duration 10] [--connections 1,50]
                             [--high 2000] [--soak 300] [--cost]

Runs wrk on 127.0.0.1 against ``/color`` of this repository's colorapp and front (front pointing at a
local colorapp) at each connection count, and prints requests/s with p50/p99 latency. crossmesh runs as
deployed on VPC Lattice: each app with the Deployments' number of serving processes, front signs every
call with SigV4 and retries as the Lattice backend sets it, both apps trace (OpenTelemetry, exported
over OTLP/HTTP to a local stand-in collector) and log every request as JSON. Given the walkthrough's
apps (``--upstream-dir`` or ``CROSSMESH_UPSTREAM_DIR``: the ``walkthroughs/howto-k8s-cross-cluster``
folder of a checkout of the aws/aws-app-mesh-examples repository, or the checkout itself), it copies
their source into a temporary folder, installs their requirements into a temporary venv and runs them as
their Dockerfile does (``gunicorn app:app --config=config.py``), then measures them the same way, in the
same run on the same CPUs, and compares. Nothing of theirs is kept: the temporary folder is removed at
the end.

``--runs N`` repeats every case and reports the worst run (lowest requests/s, highest p99).
``--high C`` also drives crossmesh's front with C connections and reports its 502s (front's own pool)
and the resident memory of every server process; ``--soak S`` keeps that load for S seconds and
samples memory every 30 s. ``--cost`` also measures front with SigV4, tracing and the access log
switched off through the apps' own settings, one at a time and then together, the variants
interleaved run by run, and prints the median of each: what these features cost on this machine.
The walkthrough's apps send X-Ray segments to a local UDP sink, as they
always trace; both stacks write their logs to /dev/null. Needs wrk (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from workloads.deploy.manifests import SERVING_PROCESSES, TRACE_CONTEXT_ENV  # noqa: E402 - after the path that finds it

WALKTHROUGH = Path("walkthroughs/howto-k8s-cross-cluster")
FRONT_RATIO, FRONT_P99_FRACTION, COLORAPP_RATIO = 7.0, 0.2, 4.0
RSS_LIMIT_MIB = 96
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass
class Result:
    stack: str
    app: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def parse_duration_ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, requests, errors) from ``wrk --latency`` output."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no match for {pattern!r}:\n{output}")
        return match

    rps = float(find(r"^Requests/sec:\s+([0-9.]+)").group(1))
    p50 = parse_duration_ms(find(r"^\s+50(?:\.000)?%\s+(\S+)").group(1))
    p99 = parse_duration_ms(find(r"^\s+99(?:\.000)?%\s+(\S+)").group(1))
    requests = int(find(r"^\s+(\d+) requests in").group(1))
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return rps, p50, p99, requests, errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def udp_sink() -> Iterator[str]:
    """A stand-in X-Ray daemon on 127.0.0.1 that reads and drops segments."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                sock.recv(65536)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        reader.join(timeout=2)
        sock.close()


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    """A stand-in OTLP/HTTP collector on 127.0.0.1: accepts trace exports and drops them."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (granian serves from a child process), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Processes:
    """Started servers; each in its own session so a gunicorn master and its workers stop together."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def rss(self) -> dict[str, float]:
        """Resident MiB of every started process and its children ("front worker 1234": 61.2)."""
        found: dict[str, float] = {}
        for proc in self._procs:
            app = str(proc.args[-1]).rsplit(".", 1)[-1] if isinstance(proc.args, list) else "?"
            for pid in process_tree(proc.pid):
                role = "supervisor" if pid == proc.pid else "worker"
                found[f"{app} {role} {pid}"] = rss_mib(pid)
        return found

    def start(self, argv: list[str], env: dict[str, str], cwd: Path, ready_url: str) -> None:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}:\n{stderr}")
            with contextlib.suppress(OSError), urllib.request.urlopen(ready_url, timeout=1) as response:
                if response.status == 200:
                    # stderr is not needed once running; close it so a chatty server cannot block.
                    if proc.stderr:
                        proc.stderr.close()
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{' '.join(argv)} was not ready at {ready_url} within 30 s")

    def stop_all(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self._procs.clear()


def run_wrk(url: str, connections: int, threads: int, duration: int) -> tuple[float, float, float, int, int]:
    threads = max(1, min(threads, connections))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True)
    return parse_wrk(done.stdout)


def measure(
    stack: str, targets: list[tuple[str, str]], args: argparse.Namespace, results: list[Result]
) -> None:
    for app, url in targets:
        for connections in args.connections:
            # Warm pools and caches first; the warm-up is not recorded.
            run_wrk(url, connections, args.threads, 2)
            runs = [run_wrk(url, connections, args.threads, args.duration) for _ in range(args.runs)]
            # The worst of the runs: lowest throughput, highest p99, all errors.
            rps = min(r[0] for r in runs)
            p50 = max(r[1] for r in runs)
            p99 = max(r[2] for r in runs)
            requests = min(r[3] for r in runs)
            errors = sum(r[4] for r in runs)
            result = Result(stack, app, connections, rps, p50, p99, requests, errors)
            results.append(result)
            print(
                f"  {stack:<9} {app:<9} c={connections:<4} {rps:>10.0f} req/s  p50 {p50:8.2f} ms"
                f"  p99 {p99:8.2f} ms  errors {errors}  (worst of {args.runs})",
                flush=True,
            )


def high_load(url: str, procs: Processes, args: argparse.Namespace) -> None:
    """front at ``args.high`` connections: its 502s and every process's memory, then an optional soak."""
    rps, p50, p99, requests, errors = run_wrk(url, args.high, args.threads, args.duration)
    rss = procs.rss()
    print(
        f"  crossmesh front     c={args.high:<4} {rps:>10.0f} req/s  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
        f"  non-2xx or socket errors {errors} of {requests}",
        flush=True,
    )
    shown = ", ".join(f"{name}: {mib:.1f}" for name, mib in sorted(rss.items()))
    print(f"  resident memory per process (MiB): {shown}")
    if args.soak:
        samples: list[float] = []
        done = threading.Event()
        load = threading.Thread(
            target=lambda: (run_wrk(url, args.high, args.threads, args.soak), done.set()), daemon=True
        )
        load.start()
        while not done.wait(30):
            samples.append(max(procs.rss().values()))
            print(f"  soak: largest process {samples[-1]:.1f} MiB", flush=True)
        load.join()
        if samples:
            print(
                f"  soak of {args.soak} s at {args.high} connections: largest process "
                f"{samples[0]:.1f} MiB at 30 s, {max(samples):.1f} MiB at most, "
                f"{samples[-1]:.1f} MiB at the end"
            )


# As the Lattice backend configures front: SigV4 (static dummy credentials; colorapp does not check
# them, Lattice would), and front's own retries within the route's deadline.
SIGNING = {
    "UPSTREAM_AUTH": "sigv4",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDBENCHMARK",
    "AWS_SECRET_ACCESS_KEY": "benchmark-secret",
    # As long as a session token from STS usually is (AWS fixes no size), so every signed call
    # carries as many header bytes as it would in a pod.
    "AWS_SESSION_TOKEN": "benchmark-session-token-" + "x" * 900,
    "AWS_EC2_METADATA_DISABLED": "true",
    "UPSTREAM_TIMEOUT_MS": "3000",
    "UPSTREAM_PER_TRY_TIMEOUT_MS": "1000",
    "UPSTREAM_MAX_RETRIES": "2",
}

FEATURES_OFF: dict[str, dict[str, str]] = {
    "SigV4 off": {"UPSTREAM_AUTH": "none"},
    # The SDK's documented switch: every tracer is a no-op, so no span and no trace headers.
    "tracing off": {"OTEL_SDK_DISABLED": "true"},
    "access log off": {"LOG_LEVEL": "warning"},
}
"""What ``--cost`` switches off, one at a time and then together, through the apps' own settings."""


def app_env(collector: str, overrides: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The environments of colorapp and front (without ports), as deployed on Lattice, plus overrides."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOST": "127.0.0.1",
        # As many serving processes as the Deployments run (workloads/deploy/manifests.py).
        "WORKERS": str(SERVING_PROCESSES),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector,
        # Propagation and sampling as the Deployments set them: X-Ray's default rate.
        **TRACE_CONTEXT_ENV,
    }
    # colorapp ignores front's settings (UPSTREAM_AUTH), as its settings ignore any unknown variable.
    return {**base, "COLOR": "blue", **overrides}, {**base, **SIGNING, **overrides}


def start_ours(
    procs: Processes, args: argparse.Namespace, collector: str, overrides: dict[str, str]
) -> tuple[str, str]:
    """Start colorapp and front (front calling that colorapp); their /color URLs."""
    color_env, front_env = app_env(collector, overrides)
    color_port, front_port = free_port(), free_port()
    procs.start(
        [args.python, "-m", "workloads.runtime.colorapp"],
        {**color_env, "PORT": str(color_port)},
        REPO,
        f"http://127.0.0.1:{color_port}/healthz",
    )
    procs.start(
        [args.python, "-m", "workloads.runtime.front"],
        {**front_env, "COLOR_HOST": f"127.0.0.1:{color_port}", "PORT": str(front_port)},
        REPO,
        f"http://127.0.0.1:{front_port}/healthz",
    )
    return f"http://127.0.0.1:{color_port}/color", f"http://127.0.0.1:{front_port}/color"


def bench_ours(args: argparse.Namespace, collector: str, results: list[Result]) -> None:
    procs = Processes()
    try:
        color_url, front_url = start_ours(procs, args, collector, {})
        measure("crossmesh", [("colorapp", color_url), ("front", front_url)], args, results)
        if args.high:
            high_load(front_url, procs, args)
    finally:
        procs.stop_all()


def cost_variants() -> list[tuple[str, dict[str, str]]]:
    everything_off = {k: v for switches in FEATURES_OFF.values() for k, v in switches.items()}
    return [("as deployed", {}), *FEATURES_OFF.items(), ("all three off", everything_off)]


def bench_cost(args: argparse.Namespace, collector: str) -> dict[str, list[float]]:
    """front's requests/s with each required feature off; variants interleaved run by run."""
    connections = max(args.connections)
    variants = cost_variants()
    seen: dict[str, list[float]] = {label: [] for label, _ in variants}
    for run in range(args.runs):
        for label, overrides in variants:
            procs = Processes()
            try:
                _, front_url = start_ours(procs, args, collector, overrides)
                run_wrk(front_url, connections, args.threads, 2)
                rps = run_wrk(front_url, connections, args.threads, args.duration)[0]
            finally:
                procs.stop_all()
            seen[label].append(rps)
            print(f"  cost run {run + 1}: front, {label:<14} c={connections} {rps:>8.0f} req/s", flush=True)
    return seen


def print_cost(seen: dict[str, list[float]]) -> None:
    """Median requests/s of each variant and its change from front as deployed."""
    medians = {label: statistics.median(values) for label, values in seen.items() if values}
    deployed = medians.get("as deployed")
    print()
    print("front with its required features switched off (median of the interleaved runs):")
    for label, median in medians.items():
        change = f"{median / deployed - 1:+6.0%}" if deployed else ""
        print(f"  {label:<14} {median:>8.0f} req/s  {change}")


def find_upstream(given: str | None) -> Path | None:
    if not given:
        return None
    root = Path(given).expanduser().resolve()
    for candidate in (root, root / WALKTHROUGH):
        if (candidate / "colorapp" / "app.py").is_file() and (candidate / "feapp" / "app.py").is_file():
            return candidate
    raise SystemExit(f"{root} has neither colorapp/ and feapp/ nor {WALKTHROUGH}/ with them")


def bench_upstream(args: argparse.Namespace, source: Path, sink: str, results: list[Result]) -> None:
    with tempfile.TemporaryDirectory(prefix="crossmesh-bench-upstream-") as tmp:
        work = Path(tmp)
        if work.is_relative_to(REPO):
            raise SystemExit("the temporary folder must be outside the repository")
        for app in ("colorapp", "feapp"):
            shutil.copytree(source / app, work / app)
        venv = Path(args.upstream_venv) if args.upstream_venv else work / "venv"
        if not (venv / "bin" / "gunicorn").exists():
            print(f"  installing the walkthrough's requirements into {venv} ...", flush=True)
            subprocess.run([args.upstream_python, "-m", "venv", str(venv)], check=True, timeout=300)
            subprocess.run(
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                    str(work / "colorapp" / "requirements.txt"),
                    "-r",
                    str(work / "feapp" / "requirements.txt"),
                ],
                check=True,
                timeout=900,
            )
        gunicorn = str(venv / "bin" / "gunicorn")
        base = {
            "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "AWS_XRAY_DAEMON_ADDRESS": sink,
        }
        color_port, front_port = free_port(), free_port()
        procs = Processes()
        try:
            # As their Dockerfile's CMD, plus --bind to keep the server on loopback (their config
            # binds every interface); the command line overrides only that setting of config.py.
            for app, port, env in (
                ("colorapp", color_port, {"COLOR": "blue"}),
                ("feapp", front_port, {"COLOR_HOST": f"127.0.0.1:{color_port}"}),
            ):
                procs.start(
                    [gunicorn, "app:app", "--config=config.py", f"--bind=127.0.0.1:{port}"],
                    {**base, **env, "PORT": str(port)},
                    work / app,
                    f"http://127.0.0.1:{port}/ping",
                )
            measure(
                "upstream",
                [
                    # Their colorapp answers on / only; their front asks http://$COLOR_HOST/.
                    ("colorapp", f"http://127.0.0.1:{color_port}/"),
                    ("front", f"http://127.0.0.1:{front_port}/color"),
                ],
                args,
                results,
            )
        finally:
            procs.stop_all()


def print_table(results: list[Result]) -> None:
    print()
    print(f"{'stack':<10} {'app':<9} {'conns':>5} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for r in results:
        print(
            f"{r.stack:<10} {r.app:<9} {r.connections:>5} {r.requests_per_second:>10.0f}"
            f" {r.p50_ms:>9.2f} {r.p99_ms:>9.2f} {r.errors:>7}"
        )


def compare(results: list[Result], connections: int) -> bool | None:
    def pick(stack: str, app: str) -> Result | None:
        return next(
            (r for r in results if (r.stack, r.app, r.connections) == (stack, app, connections)), None
        )

    print()
    met: bool | None = None
    for app, ratio_goal, p99_goal in (
        ("colorapp", COLORAPP_RATIO, None),
        ("front", FRONT_RATIO, FRONT_P99_FRACTION),
    ):
        ours, theirs = pick("crossmesh", app), pick("upstream", app)
        if ours is None or theirs is None:
            continue
        ratio = ours.requests_per_second / theirs.requests_per_second
        p99_share = ours.p99_ms / theirs.p99_ms
        print(
            f"{app} at {connections} connections: {ratio:.1f}x the requests/s of Flask + gunicorn; "
            f"p99 {ours.p99_ms:.2f} ms vs {theirs.p99_ms:.2f} ms ({p99_share:.2f} of theirs); "
            f"errors {ours.errors}"
        )
        ok = ratio >= ratio_goal and ours.errors == 0 and (p99_goal is None or p99_share <= p99_goal)
        goal = f">= {ratio_goal:g}x req/s" + (f", p99 <= {p99_goal:g} of theirs" if p99_goal else "")
        print(f"  goal ({goal}, no errors): {'MET' if ok else 'NOT MET'}")
        met = ok if met is None else met and ok
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per case; the worst is reported (default 3)"
    )
    parser.add_argument("--high", type=int, default=0, help="also load front with this many connections")
    parser.add_argument("--soak", type=int, default=0, help="keep the --high load this many seconds")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 50],
        help="comma-separated connection counts (default 1,50)",
    )
    parser.add_argument(
        "--upstream-dir",
        default=os.environ.get("CROSSMESH_UPSTREAM_DIR"),
        help="walkthroughs/howto-k8s-cross-cluster of an aws-app-mesh-examples checkout "
        "(default: $CROSSMESH_UPSTREAM_DIR)",
    )
    parser.add_argument(
        "--upstream-venv", help="reuse this venv for the walkthrough's apps instead of a fresh one"
    )
    parser.add_argument("--upstream-python", default=sys.executable, help="Python for the walkthrough's venv")
    parser.add_argument("--python", default=sys.executable, help="Python that runs colorapp and front")
    parser.add_argument(
        "--cost",
        action="store_true",
        help="also measure front with SigV4, tracing and the access log off, one at a time and together",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is not met")
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print(
            "wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk ; on macOS: brew install wrk",
            file=sys.stderr,
        )
        return 2
    upstream = find_upstream(args.upstream_dir)
    print(
        f"wrk: {args.threads} threads, {args.duration} s per run, connections {args.connections}; "
        f"{os.cpu_count()} CPUs shared by wrk and the servers; crossmesh's apps with "
        f"{SERVING_PROCESSES} serving processes each, as deployed",
        flush=True,
    )
    # Other work on the machine skews every number; say so rather than report it silently.
    load = os.getloadavg()[0]
    if load > 1.0:
        print(f"note: load average {load:.2f} before starting; other work will skew the numbers", flush=True)
    results: list[Result] = []
    with udp_sink() as sink, otlp_sink() as collector:
        bench_ours(args, collector, results)
        cost = bench_cost(args, collector) if args.cost else None
        if upstream is not None:
            bench_upstream(args, upstream, sink, results)
    print_table(results)
    if cost is not None:
        print_cost(cost)
    met = None
    if upstream is None:
        print(
            "\nComparison with the walkthrough's Flask + gunicorn apps skipped: pass --upstream-dir "
            f"(or set CROSSMESH_UPSTREAM_DIR) to the {WALKTHROUGH} folder of a checkout of the "
            "aws/aws-app-mesh-examples GitHub repository."
        )
    else:
        met = compare(results, max(args.connections))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 1 if args.strict and met is False else 0


if __name__ == "__main__":
    raise SystemExit(main())
