"""Helpers shared by the tests: load a stack file, change it, and record the real program."""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from automation.environment import project_name, read_stack_document
from automation.recorder import Recording, Registration, record_project

if TYPE_CHECKING:
    from automation.render import RenderResult

PROJECT_DIR = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_DIR.parent / "shared" / "reference"


AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
"""Where botocore finds credentials in the environment (the files come from AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE)."""


def clear_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere botocore looks: environment, files, containers, instance metadata."""
    for name in AWS_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class _Server(ThreadingHTTPServer):
    """A test server on 127.0.0.1 that never waits for its handlers' threads to close it."""

    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 drops SYNs under 20 concurrent clients: each costs a 1 s
    # retransmit, which a p99 check (the shift's) would rightly call a regression.
    request_queue_size = 128


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Generator[int]:
    """Serve ``handler`` on an ephemeral port of 127.0.0.1 for the ``with`` block; yields the port."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def stack_document(env: str) -> dict[str, Any]:
    """``Pulumi.<env>.yaml`` read as the CLI and the render read it (Pulumi's YAML rules, not PyYAML's)."""
    return dict(read_stack_document(PROJECT_DIR / f"Pulumi.{env}.yaml"))


def flat(document: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in document["config"].items()}


def record_document(document: dict[str, Any], env: str = "dev") -> Recording:
    return record_project(PROJECT_DIR, env, flat(document), project=project_name(PROJECT_DIR))


@functools.cache
def record_env(env: str) -> Recording:
    """The recording of a committed environment, once per test process (the program is deterministic)."""
    return record_document(stack_document(env), env)


def variant(env: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A copy of ``env``'s stack document with ``change`` applied to its ``config`` block."""
    document = copy.deepcopy(stack_document(env))
    change(document["config"])
    return document


def three_clusters(config: dict[str, Any]) -> None:
    """front, blue and red each in a cluster of its own."""
    config["crossmesh:clusters"] = [
        {"name": "eksc1", "nodes": {"desired": 2, "min": 2, "max": 3}},
        {"name": "eksc2", "nodes": {"desired": 2, "min": 2, "max": 3}},
        {"name": "eksc3", "nodes": {"desired": 2, "min": 2, "max": 3}},
    ]
    config["crossmesh:workloads"]["colorapp"]["versions"] = [
        {"color": "blue", "cluster": "eksc2", "weight": 50},
        {"color": "red", "cluster": "eksc3", "weight": 50},
    ]


def inputs(recording: Recording, type_: str, name: str) -> dict[str, Any]:
    return dict(recording.named(type_, name).inputs)


def env_values(entries: list[dict[str, Any]]) -> dict[str, str]:
    """A container's ``env`` as name -> value; a downward-API entry reads ``<fieldRef:PATH>``."""
    return {
        e["name"]: e["value"] if "value" in e else f"<fieldRef:{e['valueFrom']['fieldRef']['fieldPath']}>"
        for e in entries
    }


def only(items: list[Registration]) -> Registration:
    assert len(items) == 1, [r.name for r in items]
    return items[0]


def render_written(env: str, out_dir: Path, document: dict[str, Any] | None = None) -> RenderResult:
    """Render ``env`` (or ``document`` in its place) and write the artefacts to ``out_dir``."""
    from automation.render import render
    from automation.render_output import write_render

    result = render(env, PROJECT_DIR, document=document)
    write_render(result, out_dir)
    return result


def exported_state(recording: Recording) -> list[dict[str, Any]]:
    """The state a successful ``pulumi up`` of ``recording`` leaves, as ``pulumi stack export`` lists it:
    each resource's type, URN, inputs and outputs (here the mocks' outputs over the inputs).

    pulumi-eks's components run in its own plugin, so the recording holds ``eks:index:Cluster`` but not
    the ``aws:eks/cluster:Cluster`` it creates; that one is added with the inputs pulumi-eks gives it
    (nodejs/eks/cluster/cluster.ts: ``name`` and ``kubernetesNetworkConfig.serviceIpv4Cidr`` from the
    component's ``name`` and ``kubernetesServiceIpAddressRange``).
    """
    state: list[dict[str, Any]] = []
    for registration in recording:
        state.append(
            {
                "urn": registration.urn,
                "type": registration.type,
                "custom": registration.custom,
                "inputs": dict(registration.inputs),
                "outputs": {**registration.inputs, **registration.outputs},
            }
        )
        if registration.type == "eks:index:Cluster":
            cluster = {
                "name": registration.inputs["name"],
                "kubernetesNetworkConfig": {
                    "serviceIpv4Cidr": registration.inputs["kubernetesServiceIpAddressRange"],
                    "ipFamily": "ipv4",
                },
            }
            state.append(
                {
                    "urn": f"{registration.urn.rsplit('::', 1)[0]}$aws:eks/cluster:Cluster::"
                    f"{registration.name}-eksCluster",
                    "type": "aws:eks/cluster:Cluster",
                    "custom": True,
                    "inputs": cluster,
                    "outputs": cluster,
                }
            )
    return state
