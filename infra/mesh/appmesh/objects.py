"""App Mesh controller custom resources (appmesh.k8s.aws/v1beta2) as pure functions.

Field names follow the CRDs of the eks-charts appmesh-controller 1.13.3 (the copy in
../shared/reference/appmesh-crds.yaml is what the tests validate every object against).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.config import RouteConfig
from infra.topology import AppKind, AppSpec, Topology

API_VERSION = "appmesh.k8s.aws/v1beta2"
ROUTE_NAME = "color-route"
Manifest = dict[str, Any]
ArnOf = Callable[[str, str], Any]
"""(kind, AWS name) -> ARN of an object in this mesh, e.g. ("virtualNode", "front_appmesh-demo").
A plain string in tests; a Pulumi Output in the program, where the account is known at deploy time."""

# Pulumi waits until the controller has created the AWS object and written its ARN back, so anything
# depending on a mesh object starts only once App Mesh has it (pulumi/pulumi-kubernetes#3134).
WAIT_FOR = "pulumi.com/waitFor"


def aws_name(name: str, namespace: str) -> str:
    """The App Mesh name the controller would choose by default, made explicit so ARNs are known upfront."""
    return f"{name}_{namespace}"


def router_name(topology: Topology) -> str:
    return f"{topology.service}-router"


@dataclass(frozen=True)
class ListenerPolicy:
    """Health checks, outlier detection and connection limits of every listener."""

    health_path: str = "/healthz"
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    interval_ms: int = 5000
    timeout_ms: int = 2000
    max_server_errors: int = 5
    outlier_interval_s: int = 10
    ejection_s: int = 30
    max_ejection_percent: int = 50
    max_connections: int = 256
    max_pending_requests: int = 512
    idle_timeout_s: int = 300


def _duration(value: int, unit: str) -> dict[str, Any]:
    return {"unit": unit, "value": value}


def mesh(name: str, *, egress_filter: str) -> Manifest:
    """Cluster-scoped; claims every namespace labelled ``mesh: <name>``. Declared in each mesh cluster:
    all of them reconcile the same AWS mesh."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Mesh",
        "metadata": {"name": name, "annotations": {WAIT_FOR: "jsonpath={.status.meshARN}"}},
        "spec": {
            "awsName": name,
            "namespaceSelector": {"matchLabels": {"mesh": name}},
            "egressFilter": {"type": egress_filter},
        },
    }


def listener(port: int, route: RouteConfig, policy: ListenerPolicy) -> dict[str, Any]:
    return {
        "portMapping": {"port": port, "protocol": "http"},
        "healthCheck": {
            "protocol": "http",
            "path": policy.health_path,
            "port": port,
            "healthyThreshold": policy.healthy_threshold,
            "unhealthyThreshold": policy.unhealthy_threshold,
            "intervalMillis": policy.interval_ms,
            "timeoutMillis": policy.timeout_ms,
        },
        "outlierDetection": {
            "maxServerErrors": policy.max_server_errors,
            "interval": _duration(policy.outlier_interval_s, "s"),
            "baseEjectionDuration": _duration(policy.ejection_s, "s"),
            "maxEjectionPercent": policy.max_ejection_percent,
        },
        "connectionPool": {
            "http": {
                "maxConnections": policy.max_connections,
                "maxPendingRequests": policy.max_pending_requests,
            }
        },
        "timeout": {
            "http": {
                "perRequest": _duration(route.timeout_ms, "ms"),
                "idle": _duration(policy.idle_timeout_s, "s"),
            }
        },
    }


def virtual_node(
    app: AppSpec,
    topology: Topology,
    *,
    arn_of: ArnOf,
    route: RouteConfig,
    policy: ListenerPolicy | None = None,
) -> Manifest:
    discovery: dict[str, Any] = {"namespaceName": topology.discovery_namespace, "serviceName": app.app}
    if app.version is not None:
        # Instances carry the node's attributes; a caller's Envoy picks this node's pods by them.
        discovery["attributes"] = [{"key": "color", "value": app.version}]
    spec: dict[str, Any] = {
        "awsName": aws_name(app.name, topology.namespace),
        "podSelector": {"matchLabels": dict(app.labels)},
        "listeners": [listener(topology.port, route, policy or ListenerPolicy())],
        "serviceDiscovery": {"awsCloudMap": discovery},
        "logging": {"accessLog": {"file": {"path": "/dev/stdout"}}},
    }
    if app.kind is AppKind.FRONT:
        if app.cluster == topology.router_cluster:
            backend: dict[str, Any] = {"virtualServiceRef": {"name": topology.service_host}}
        else:
            # The virtual service lives in another cluster: reference it by its ARN, which is known
            # before anything exists (no sleep-and-query as in the upstream script).
            backend = {"virtualServiceARN": arn_of("virtualService", topology.service_host)}
        spec["backends"] = [{"virtualService": backend}]
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualNode",
        "metadata": {
            "name": app.name,
            "namespace": topology.namespace,
            "annotations": {WAIT_FOR: "jsonpath={.status.virtualNodeARN}"},
        },
        "spec": spec,
    }


def virtual_router(topology: Topology, *, arn_of: ArnOf, route: RouteConfig) -> Manifest:
    """Weighted route over the colorapp versions; versions in other clusters are targeted by ARN."""
    targets: list[dict[str, Any]] = []
    for version in topology.colors:
        target: dict[str, Any] = {"weight": version.weight or 0}
        if version.cluster == topology.router_cluster:
            target["virtualNodeRef"] = {"name": version.name}
        else:
            target["virtualNodeARN"] = arn_of("virtualNode", aws_name(version.name, topology.namespace))
        targets.append(target)
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualRouter",
        "metadata": {
            "name": router_name(topology),
            "namespace": topology.namespace,
            "annotations": {WAIT_FOR: "jsonpath={.status.virtualRouterARN}"},
        },
        "spec": {
            "awsName": aws_name(router_name(topology), topology.namespace),
            "listeners": [{"portMapping": {"port": topology.port, "protocol": "http"}}],
            "routes": [
                {
                    "name": ROUTE_NAME,
                    "httpRoute": {
                        "match": {"prefix": "/"},
                        "action": {"weightedTargets": targets},
                        "retryPolicy": {
                            "httpRetryEvents": ["server-error", "gateway-error"],
                            "tcpRetryEvents": ["connection-error"],
                            "maxRetries": route.max_retries,
                            "perRetryTimeout": _duration(route.per_retry_timeout_ms, "ms"),
                        },
                        "timeout": {"perRequest": _duration(route.timeout_ms, "ms")},
                    },
                }
            ],
        },
    }


def virtual_service(topology: Topology) -> Manifest:
    """Named after the Cloud Map DNS name, so the name front calls resolves in the private namespace:
    no selector-less placeholder Service is needed for DNS."""
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualService",
        "metadata": {
            "name": topology.service_host,
            "namespace": topology.namespace,
            "annotations": {WAIT_FOR: "jsonpath={.status.virtualServiceARN}"},
        },
        "spec": {
            "awsName": topology.service_host,
            "provider": {"virtualRouter": {"virtualRouterRef": {"name": router_name(topology)}}},
        },
    }


def cluster_objects(
    cluster: str, topology: Topology, *, arn_of: ArnOf, mesh_name: str, egress_filter: str, route: RouteConfig
) -> list[Manifest]:
    """Every App Mesh object one cluster holds, in the order they can be created."""
    objects: list[Manifest] = [mesh(mesh_name, egress_filter=egress_filter)]
    objects += [virtual_node(app, topology, arn_of=arn_of, route=route) for app in topology.apps_in(cluster)]
    if cluster == topology.router_cluster:
        objects.append(virtual_router(topology, arn_of=arn_of, route=route))
        objects.append(virtual_service(topology))
    return objects


INJECTOR = "appmesh.k8s.aws/sidecarInjectorWebhook"
EGRESS_IGNORED_PORTS = "appmesh.k8s.aws/egressIgnoredPorts"
DEFAULT_EGRESS_IGNORED_PORTS = (22,)
"""What the injector leaves outside Envoy when a pod names no ports of its own (SSH)."""


def pod_annotations(*, mesh_member: bool, ports_outside_mesh: Sequence[int] = ()) -> Mapping[str, str]:
    """The injector's pod annotations (aws-app-mesh-controller-for-k8s pkg/inject).

    In a namespace labelled for injection the webhook *denies* a pod that no virtual node selects
    ("sidecarInject enabled but no matching VirtualNode or VirtualGateway found"), so a helper that is
    no mesh member (the trace collector) opts out. An app's Envoy, under the mesh's ``DROP_ALL``
    egress filter, drops every call to a destination outside the mesh, so ports an app calls outside
    it (OTLP to the collector) are left to the kernel, after the injector's own default (22).
    """
    if not mesh_member:
        return {INJECTOR: "disabled"}
    if not ports_outside_mesh:
        return {}
    ports = dict.fromkeys((*DEFAULT_EGRESS_IGNORED_PORTS, *ports_outside_mesh))
    return {EGRESS_IGNORED_PORTS: ",".join(str(port) for port in ports)}


def namespace_labels(mesh_name: str) -> Mapping[str, str]:
    """Mesh membership and sidecar injection, plus the Pod Security level the sidecars allow.

    The injected ``proxyinit`` init container needs NET_ADMIN, which the baseline and restricted
    levels forbid, so the namespace can only *enforce* privileged; it still *audits* and *warns*
    against restricted, so anything beyond what the sidecars need shows up.
    """
    return {
        "mesh": mesh_name,
        INJECTOR: "enabled",
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
