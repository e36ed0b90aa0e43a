"""Does a cluster's API endpoint answer from where the deploy runs?

Nothing is applied to a cluster before this is known: on a first deploy the ``EndpointGate`` resource
(a Pulumi dynamic resource, so it runs inside the real engine during ``up``) waits for the endpoint,
and every Kubernetes resource of the cluster depends on it through the cluster's Kubernetes provider;
on updates ``automation.preflight.check_endpoints`` asks the same question before Pulumi starts.

A private-only endpoint (prod) resolves to addresses inside the VPC: from outside it never answers,
and the gate fails with what to do (a runner in the VPC, or a VPN; docs/pipeline.md) instead of every
Helm release timing out with "context deadline exceeded".
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi import dynamic

DEFAULT_WAIT_SECONDS = 300
PIPELINE_HINT = (
    "run the deploy from a machine that reaches it: for a private-only endpoint, a CI runner inside "
    "the VPC or a VPN into it (docs/pipeline.md, 'Reaching a private API endpoint'); for a public one, "
    "add this machine's address to crossmesh:clusters[].endpoint.publicAccessCidrs"
)


@dataclass(frozen=True)
class Endpoint:
    url: str
    """``https://<id>.<region>.eks.amazonaws.com``"""
    ca_pem: str | None = None
    """The cluster's CA (PEM); the answer's certificate is checked against it."""


def endpoint_of_kubeconfig(kubeconfig: str | Mapping[str, Any]) -> Endpoint:
    """The API server URL and CA of the first cluster in a kubeconfig (JSON text or parsed)."""
    config: Mapping[str, Any] = json.loads(kubeconfig) if isinstance(kubeconfig, str) else kubeconfig
    cluster = config["clusters"][0]["cluster"]
    data = cluster.get("certificate-authority-data")
    ca: str | None = None
    if data:
        try:
            ca = base64.b64decode(data, validate=True).decode()
        except ValueError:
            ca = None
    return Endpoint(url=str(cluster["server"]), ca_pem=ca)


def probe(endpoint: Endpoint, *, timeout: float = 5.0) -> str | None:
    """None when the endpoint answers HTTP (any status: 401/403 still prove it is reachable), else why
    not. ``GET /version`` needs no credentials and changes nothing."""
    parts = urlsplit(endpoint.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        try:
            context = ssl.create_default_context(cadata=endpoint.ca_pem) if endpoint.ca_pem else None
        except (ssl.SSLError, ValueError) as exc:
            return f"the cluster's CA certificate is unusable ({exc})"
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/version")
        connection.getresponse().read(1024)
    except socket.gaierror as exc:
        return f"{host} does not resolve from here ({exc})"
    except TimeoutError:
        return f"{host}:{port} did not answer within {timeout:g} s (private-only endpoint, or a firewall)"
    except ssl.SSLError as exc:
        return f"{host}:{port} answered with a certificate the cluster's CA does not sign ({exc})"
    except OSError as exc:
        return f"{host}:{port} refused or dropped the connection ({exc})"
    finally:
        connection.close()
    return None


def wait_for(
    endpoint: Endpoint,
    *,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    interval: float = 10.0,
    check: Callable[[Endpoint], str | None] = probe,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Probe until the endpoint answers or ``wait_seconds`` pass; the last problem, or None."""
    deadline = clock() + wait_seconds
    while True:
        problem = check(endpoint)
        if problem is None or clock() >= deadline:
            return problem
        sleep(min(interval, max(0.0, deadline - clock())))


class _GateProvider(dynamic.ResourceProvider):
    """Runs in the Pulumi engine's dynamic-provider host: ``create`` waits for the endpoint."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        endpoint = endpoint_of_kubeconfig(str(props["kubeconfig"]))
        problem = wait_for(endpoint, wait_seconds=float(props.get("waitSeconds", DEFAULT_WAIT_SECONDS)))
        if problem is not None:
            raise RuntimeError(
                f"the API endpoint of EKS cluster {props['clusterName']} ({endpoint.url}) does not answer "
                f"from where this deploy runs: {problem}. Nothing was applied to the cluster. To fix: "
                + PIPELINE_HINT
            )
        return dynamic.CreateResult(id_=str(props["clusterName"]), outs={"endpoint": endpoint.url})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        # Only a new cluster (new endpoint) is waited for again; updates are checked by the preflight.
        changed = endpoint_of_kubeconfig(str(news["kubeconfig"])).url != olds.get("endpoint")
        return dynamic.DiffResult(changes=changed, replaces=["kubeconfig"] if changed else [])


@dataclass(frozen=True)
class EndpointGateArgs:
    cluster_name: str
    kubeconfig: pulumi.Input[str]
    """The cluster's kubeconfig (JSON, secret): the server URL and CA are read from it."""
    wait_seconds: int = DEFAULT_WAIT_SECONDS


class EndpointGate(dynamic.Resource):
    """Exists once the cluster's API endpoint has answered from the deploying machine."""

    def __init__(self, name: str, args: EndpointGateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            _GateProvider(),
            name,
            {
                "clusterName": args.cluster_name,
                "kubeconfig": pulumi.Output.secret(args.kubeconfig),
                "waitSeconds": args.wait_seconds,
                "endpoint": None,
            },
            opts,
        )
