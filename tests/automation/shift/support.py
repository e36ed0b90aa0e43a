"""A shift for real on 127.0.0.1: a fake `pulumi`, a weighted router, colorapp processes and a front.

* The fake `pulumi` keeps a tiny backend in a JSON file (config, tags, applied weights): `config set`
  stores the value, `up --target ...` records the targets and writes the stored
  ``crossmesh:trafficWeights`` to the router's weights file (what the HTTPRoute and Lattice do for
  real), `stack output` answers frontUrl and trafficWeights, `stack tag` get/set/rm keep the tags.
* The router (:class:`Router`) picks an upstream per request by the weights in that file and passes
  the answer on; an upstream that refuses the connection is a 502 without a version, as Lattice answers.
* front: the real app when it implements the version/attempts contract and retries
  (workloads/runtime/front), else :class:`StandInFront`, a small front with the same contract.
* colorapp: real processes (workloads/runtime/colorapp), one per color.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import stat
import sys
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support import serve
from tests.workloads.servers import REPO, App, Launcher

FAKE_PULUMI = r"""
import json, os, sys, time

argv = [a for a in sys.argv[1:] if a != "--non-interactive"]
state_path = os.environ["FAKE_PULUMI_STATE"]
try:
    state = json.load(open(state_path))
except (OSError, ValueError):
    state = {"config": {}, "tags": {}, "applied": None}
with open(os.environ["FAKE_PULUMI_CALLS"], "a") as calls:
    calls.write(json.dumps({"argv": argv}) + "\n")


def save():
    with open(state_path + ".tmp", "w") as out:
        json.dump(state, out)
    os.replace(state_path + ".tmp", state_path)


if argv[:1] == ["version"]:
    print("v3.200.0")
elif argv[:2] == ["stack", "select"]:
    pass
elif argv[:2] == ["config", "set"]:
    key = next(a for a in argv[2:] if not a.startswith("-"))
    state["config"][key] = argv[-1]
    save()
elif argv[:3] == ["stack", "tag", "set"]:
    state["tags"][argv[3]] = argv[4]
    save()
elif argv[:3] == ["stack", "tag", "get"]:
    if argv[3] not in state["tags"]:
        print(f"error: stack tag {argv[3]!r} not found", file=sys.stderr)
        sys.exit(255)
    print(state["tags"][argv[3]])
elif argv[:3] == ["stack", "tag", "rm"]:
    state["tags"].pop(argv[3], None)
    save()
elif argv[:1] == ["up"]:
    log = argv[argv.index("--event-log") + 1]
    targets = [argv[i + 1] for i, a in enumerate(argv) if a == "--target"]
    weights = json.loads(state["config"]["crossmesh:trafficWeights"])
    time.sleep(float(os.environ.get("FAKE_PULUMI_UP_SECONDS", "0")))
    with open(os.environ["FAKE_ROUTER_WEIGHTS"] + ".tmp", "w") as out:
        json.dump(weights, out)
    os.replace(os.environ["FAKE_ROUTER_WEIGHTS"] + ".tmp", os.environ["FAKE_ROUTER_WEIGHTS"])
    state["applied"] = weights
    state.setdefault("ups", []).append({"targets": targets, "weights": weights})
    save()
    with open(log, "a") as events:
        events.write(json.dumps({"sequence": 1, "timestamp": int(time.time()), "summaryEvent": {
            "maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {"update": 1}}}) + "\n")
        events.write(json.dumps({"sequence": 2, "timestamp": int(time.time()), "cancelEvent": {}}) + "\n")
    print("Updating (dev):\n ~ 1 updated")
elif argv[:2] == ["stack", "output"]:
    outputs = {"region": "us-east-1", "frontUrl": os.environ["FAKE_FRONT_URL"]}
    if state["applied"] is not None:
        outputs["trafficWeights"] = state["applied"]
    print(json.dumps(outputs))
elif argv[:2] == ["stack", "history"]:
    print(json.dumps([{"kind": "update", "startTime": "2026-12-07T00:00:00.000Z",
                       "endTime": "2026-12-07T00:00:01.000Z", "message": "", "environment": {},
                       "config": {}, "result": "succeeded", "resourceChanges": {"update": 1}}]))
elif argv[:1] == ["cancel"]:
    pass
else:
    print(f"fake pulumi: unexpected {argv}", file=sys.stderr)
    sys.exit(2)
"""


def install_fake_pulumi(directory: Path, env: dict[str, str]) -> dict[str, str]:
    """Writes the fake `pulumi` into ``directory/bin``; returns the environment that puts it first."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    binary = bin_dir / "pulumi"
    binary.write_text(f"#!{sys.executable}\n{FAKE_PULUMI}")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return {
        **env,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(directory / "home"),
        "FAKE_PULUMI_STATE": str(directory / "backend.json"),
        "FAKE_PULUMI_CALLS": str(directory / "calls.jsonl"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


def read_weights(path: Path) -> dict[str, int]:
    return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}


@dataclass
class Router:
    """Weighted HTTP routing over upstreams (color -> host:port), weights read from a file per request."""

    weights_file: Path
    upstreams: dict[str, str]
    picks: list[str] = field(default_factory=list[str])
    port: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(7)

    def pick(self) -> str:
        weights = read_weights(self.weights_file)
        colors = [c for c in self.upstreams if weights.get(c, 0) > 0]
        choice = self._rng.choices(colors, [weights[c] for c in colors])[0]
        self.picks.append(choice)
        return choice

    def handler(self) -> type[BaseHTTPRequestHandler]:
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                color = router.pick()
                host, port = router.upstreams[color].rsplit(":", 1)
                try:
                    connection = http.client.HTTPConnection(host, int(port), timeout=2)
                    connection.request(
                        "GET", self.path, headers={"Accept": self.headers.get("Accept", "*/*")}
                    )
                    upstream = connection.getresponse()
                    status, body = upstream.status, upstream.read()
                    headers = {k.lower(): v for k, v in upstream.getheaders()}
                    connection.close()
                except OSError:
                    status, body, headers = 502, b"upstream unreachable", {"content-type": "text/plain"}
                self.send_response(status)
                for name in ("content-type", "x-crossmesh-version"):
                    if name in headers:
                        self.send_header(name, headers[name])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@dataclass
class StandInFront:
    """front's contract (x-crossmesh-version, x-crossmesh-attempts, retries on 5xx and refused), used
    while the real front does not implement it yet. Version: colorapp's header, else the body."""

    upstream: str
    max_retries: int = 2
    port: int = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host, port = front.upstream.rsplit(":", 1)
                attempts = 0
                status, body, version = 502, b'{"error": "no answer"}', None
                while attempts <= front.max_retries:
                    attempts += 1
                    try:
                        connection = http.client.HTTPConnection(host, int(port), timeout=2)
                        connection.request("GET", "/color", headers={"Accept": "text/plain"})
                        answer = connection.getresponse()
                        status, body = answer.status, answer.read()
                        version = answer.getheader("x-crossmesh-version")
                        connection.close()
                    except OSError:
                        status, body, version = 502, b'{"error": "unreachable"}', None
                    if status < 500:
                        break
                if status == 200 and version is None:
                    version = body.decode().strip()
                out_status = status if status == 200 else 502
                self.send_response(out_status)
                self.send_header("Content-Type", "text/plain" if out_status == 200 else "application/json")
                self.send_header("x-crossmesh-attempts", str(attempts))
                if version:
                    self.send_header("x-crossmesh-version", version)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def real_front_has_contract() -> bool:
    """The real front relays the version and attempts headers and retries (issue: front's contract)."""
    front = REPO / "workloads" / "runtime" / "front"
    text = "".join(p.read_text() for p in front.glob("*.py"))
    return "x-crossmesh-attempts" in text and "UPSTREAM_MAX_RETRIES" in text


@dataclass
class Mesh:
    """Everything on 127.0.0.1: colorapps, router, front; the weights file the fake `pulumi` writes."""

    colors: dict[str, App]
    router: Router
    front_url: str
    weights_file: Path


@contextmanager
def local_mesh(tmp: Path, launcher: Launcher, start: dict[str, int]) -> Generator[Mesh]:
    colors = {c: launcher.start("workloads.runtime.colorapp", {"COLOR": c}) for c in start}
    weights_file = tmp / "router-weights.json"
    weights_file.write_text(json.dumps(start))
    router = Router(weights_file, {c: f"127.0.0.1:{app.port}" for c, app in colors.items()})
    with serve(router.handler()) as router_port:
        router.port = router_port
        if real_front_has_contract():
            front = launcher.start(
                "workloads.runtime.front",
                {
                    "COLOR_HOST": f"127.0.0.1:{router_port}",
                    "UPSTREAM_MAX_RETRIES": "2",
                    "UPSTREAM_RETRY_BUDGET_PERCENT": "100",
                    "UPSTREAM_AUTH": "none",
                },
            )
            yield Mesh(colors, router, f"http://127.0.0.1:{front.port}/color", weights_file)
        else:
            with serve(StandInFront(f"127.0.0.1:{router_port}").handler()) as front_port:
                yield Mesh(colors, router, f"http://127.0.0.1:{front_port}/color", weights_file)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def file_observer(
    path: Path, on_observe: Callable[[dict[str, int]], None] | None = None
) -> Callable[[], dict[str, int] | None]:
    """The local test's weights observer: the router's file plays Lattice's listener rule."""

    def observe() -> dict[str, int] | None:
        weights = read_weights(path)
        if on_observe is not None:
            on_observe(weights)
        return weights

    return observe


def calls(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
