"""Kubernetes objects of the apps, as pure functions returning exactly what the API server receives.

Nothing here knows which mesh backend connects the clusters: backends contribute namespace labels and
the IAM role of each service account, and that is all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.network_policy import dns_egress, https_egress, match_labels, tcp
from infra.topology import COMMON_LABELS, HTTP_PORT_NAME, AppKind, AppSpec, Topology

Manifest = dict[str, Any]
Deferred = Any
"""A string, or a value known only at deploy time (a Pulumi Output); builders place it as is."""

# The UID the images run as (USER 10001:10001 in workloads/Dockerfile).
APP_UID = 10001
PRE_STOP_WAIT_SECONDS = 15
"""After POST /drain, how long the preStop hook waits before Kubernetes sends SIGTERM: readiness fails
at once, and endpoints, the load balancer and the mesh (Envoy, or Lattice's target group) drop the pod
in that time, while it still answers what reaches it."""
TERMINATION_GRACE_SECONDS = 45
"""Covers the preStop wait, the app's drain of requests in flight (25 s at most) and the injected
Envoy's own pre-stop delay (20 s) where there is one."""
SERVING_PROCESSES = 2
"""Serving processes per app container (the apps' ``WORKERS``). One Python process runs its requests on
one core at a time, so one process per pod leaves a second core of its limit idle; measured on
127.0.0.1 (bench/apps/README.md), colorapp served about a quarter more with two. They share the pod's
drain state (workloads/runtime/common/drain.py)."""
PROCESS_MEMORY_MI = 128
"""Memory limit per serving process and for the supervisor: a serving process held at most 92 MiB at
2,000 client connections over five minutes (bench/apps/README.md), the supervisor about 60."""

TRACE_CONTEXT_ENV = {
    "OTEL_PROPAGATORS": "tracecontext,xray",
    # X-Ray's default sampling rate; a caller's decision (the parent's) is kept as it came.
    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    "OTEL_TRACES_SAMPLER_ARG": "0.05",
}
"""How both apps propagate and sample traces, whether or not the cluster exports them."""


def app_resources(processes: int = SERVING_PROCESSES) -> dict[str, dict[str, str]]:
    """Requests for the quiet hours; limits of one core per serving process, and memory for each."""
    return {
        "requests": {"cpu": "100m", "memory": f"{PROCESS_MEMORY_MI + PROCESS_MEMORY_MI // 2}Mi"},
        "limits": {"cpu": str(processes), "memory": f"{PROCESS_MEMORY_MI * (processes + 1)}Mi"},
    }


COLLECTOR_NAME = "otel-collector"
"""The AWS Distro for OpenTelemetry collector of a cluster (workloads/deploy/collector.py)."""
OTLP_HTTP_PORT = 4318
LB_PORT = 80


def front_deadline_ms(route_timeout_ms: int) -> int:
    """The longest front may take on a request: the route's deadline, and a second more for the mesh's
    own answer on App Mesh (front waits that long there; on Lattice it applies the route's itself)."""
    return route_timeout_ms + 1000


def lb_idle_timeout_seconds(route_timeout_ms: int) -> int:
    """How long front's load balancer lets a connection sit idle, on both sides: past front's longest
    request, so a slow answer is not cut off. It proxies HTTP, so it must also be the side that closes
    an idle connection to a pod, before the app does (``front_keep_alive_ms``), or it may send a request
    on a connection the app is closing: the Classic Load Balancer guide asks for an app keep-alive longer
    than the idle timeout (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/config-idle-timeout.html)."""
    return -(-front_deadline_ms(route_timeout_ms) // 1000) + 1


def front_keep_alive_ms(route_timeout_ms: int) -> int:
    """front's keep-alive and header-read timeout (one timer in granian): a second past the load
    balancer's idle timeout. Only the load balancer connects to front from outside the cluster."""
    return (lb_idle_timeout_seconds(route_timeout_ms) + 1) * 1000


def object_labels(app: AppSpec) -> dict[str, str]:
    return {
        **app.labels,
        "app.kubernetes.io/name": app.app,
        **({"app.kubernetes.io/version": app.version} if app.version else {}),
        **COMMON_LABELS,
    }


def namespace(name: str, labels: Mapping[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**COMMON_LABELS, **labels}},
    }


def service_account(app: AppSpec, topology: Topology, role_arn: Deferred | None) -> Manifest:
    annotations = {"eks.amazonaws.com/role-arn": role_arn} if role_arn else {}
    metadata: dict[str, Any] = {
        "name": app.name,
        "namespace": topology.namespace,
        "labels": object_labels(app),
    }
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata,
        # The pods never call the Kubernetes API; IRSA mounts its own web-identity token (CIS EKS 4.1.6).
        "automountServiceAccountToken": False,
    }


def collector_endpoint(namespace: str) -> str:
    """Where apps export spans (OTLP/HTTP): the cluster's collector Service in the apps' namespace."""
    return f"http://{COLLECTOR_NAME}.{namespace}.svc.cluster.local:{OTLP_HTTP_PORT}"


def trace_resource_env(app: AppSpec, topology: Topology, *, eks_name: str) -> list[dict[str, Any]]:
    """Where a span comes from, as OpenTelemetry resource attributes (``OTEL_RESOURCE_ATTRIBUTES``,
    read by the SDK's ``Resource.create``).

    With ``cloud.provider=aws`` and ``cloud.platform=aws_eks`` the collector's awsxray exporter gives
    the segment the origin ``AWS::EKS::Container`` and fills its ``aws.eks`` section from the ``k8s.*``
    attributes (opentelemetry-collector-contrib, exporter/awsxrayexporter/internal/translator,
    ``TestOriginEks``), so X-Ray tells which cluster, pod and node served a request. The pod and node
    names come from the downward API; Kubernetes expands ``$(NAME)`` from variables defined earlier in
    the list (https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/).
    Every value is a DNS name, so none needs the encoding the variable's format has for ``,`` and ``=``.
    """
    attributes = {
        "cloud.provider": "aws",
        "cloud.platform": "aws_eks",
        "k8s.cluster.name": eks_name,
        "k8s.namespace.name": topology.namespace,
        "k8s.deployment.name": app.name,
        "k8s.pod.name": "$(K8S_POD_NAME)",
        "k8s.node.name": "$(K8S_NODE_NAME)",
    }
    return [
        {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "K8S_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": ",".join(f"{k}={v}" for k, v in attributes.items())},
    ]


def app_env(
    app: AppSpec,
    topology: Topology,
    *,
    route_timeout_ms: int,
    tracing: bool,
    eks_name: str,
    backend_env: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Environment of an app container; names are those of workloads/runtime's settings classes.

    The defaults suit a mesh whose proxy enforces the route's deadline and retries (App Mesh): front
    waits a little longer than that deadline and does not retry itself. ``backend_env`` is what the
    mesh backend sets for its data plane (VPC Lattice: SigV4 and front's own retries) and wins.
    ``eks_name``: the cluster the pods run in, for the spans' resource (:func:`trace_resource_env`).
    """
    env: dict[str, str] = {
        "PORT": str(topology.port),
        "WORKERS": str(SERVING_PROCESSES),
        "OTEL_SERVICE_NAME": app.name,
        **TRACE_CONTEXT_ENV,
    }
    if app.kind is AppKind.COLORAPP:
        env["COLOR"] = app.version or ""
    else:
        env["COLOR_HOST"] = topology.service_address
        env["UPSTREAM_TIMEOUT_MS"] = str(front_deadline_ms(route_timeout_ms))
        env["UPSTREAM_PER_TRY_TIMEOUT_MS"] = str(front_deadline_ms(route_timeout_ms))
        env["UPSTREAM_MAX_RETRIES"] = "0"
        env["HEADER_READ_TIMEOUT_MS"] = str(front_keep_alive_ms(route_timeout_ms))
    if tracing:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector_endpoint(topology.namespace)
    env.update(backend_env or {})
    listed: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in env.items()]
    return [*listed, *trace_resource_env(app, topology, eks_name=eks_name)] if tracing else listed


DRAIN_KEY_FILE = "/dev/shm/crossmesh-drain-key-{port}"  # noqa: S108 - the container's own memory file system
"""Where the app's supervisor writes the key a drain call presents (runtime/common/drain.py; a test
holds the two to the same name, as this side may not import the runtime)."""
DRAIN_KEY_HEADER = "x-crossmesh-drain-key"


def pre_stop_command(port: int, wait_seconds: int = PRE_STOP_WAIT_SECONDS) -> list[str]:
    """The preStop hook: tell the app to drain (from the pod itself, on loopback, with its key), then wait.

    The image has no shell tools beyond Python, and POST /drain is refused from anywhere but loopback
    and without the key the app's supervisor wrote for this start (readable by the app's user only),
    so the hook is a Python one-liner. A failed call still waits: SIGTERM then drains anyway.
    """
    key_file = DRAIN_KEY_FILE.format(port=port)
    script = (
        "import pathlib, time, urllib.request\n"
        "headers = {}\n"
        "try:\n"
        f"    headers['{DRAIN_KEY_HEADER}'] = pathlib.Path('{key_file}').read_text()\n"
        "except OSError as exc:\n"
        "    print('no drain key:', exc)\n"
        f"drain = urllib.request.Request('http://127.0.0.1:{port}/drain', method='POST', headers=headers)\n"
        "try:\n"
        "    urllib.request.urlopen(drain, timeout=2)\n"
        "except Exception as exc:\n"
        "    print('drain call failed:', exc)\n"
        f"time.sleep({wait_seconds})\n"
    )
    return ["python", "-c", script]


def _probe(path: str, *, period: int, failures: int, delay: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": HTTP_PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


def container_security_context() -> dict[str, Any]:
    """Restricted, and set per container: App Mesh's injected proxyinit inherits pod-level
    runAsNonRoot/runAsUser and needs to run as root with NET_ADMIN, and Envoy runs as UID 1337."""
    return {
        "runAsNonRoot": True,
        "runAsUser": APP_UID,
        "runAsGroup": APP_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def deployment(
    app: AppSpec,
    topology: Topology,
    *,
    image: Deferred,
    env: Sequence[Mapping[str, Any]],
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """``annotations``: the mesh backend's, on the pod template (MeshBackend.pod_annotations)."""
    selector = dict(app.labels)
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            # Spread when possible; never refuse to schedule (dev runs single replicas on few nodes).
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app.name, "namespace": topology.namespace, "labels": object_labels(app)},
        "spec": {
            "replicas": app.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": object_labels(app),
                    **({"annotations": dict(annotations)} if annotations else {}),
                },
                "spec": {
                    "serviceAccountName": app.name,
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    # Pod level holds only what the injected sidecars can live with.
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "topologySpreadConstraints": spread,
                    "containers": [
                        {
                            "name": app.app,
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [
                                {"name": HTTP_PORT_NAME, "containerPort": topology.port, "protocol": "TCP"}
                            ],
                            "env": [dict(e) for e in env],
                            # Ready only when serving and not draining; alive as long as the loop answers.
                            "readinessProbe": _probe("/healthz", period=5, failures=2),
                            "lifecycle": {"preStop": {"exec": {"command": pre_stop_command(topology.port)}}},
                            "livenessProbe": _probe("/ping", period=10, failures=3, delay=5),
                            "resources": app_resources(),
                            "securityContext": container_security_context(),
                        }
                    ],
                },
            },
        },
    }


def pod_disruption_budget(app: AppSpec, topology: Topology) -> Manifest | None:
    """One pod at a time may be evicted, when there is more than one; a pod that is not Ready may
    always be.

    Under the default policy (IfHealthyBudget) a Running pod that is not Ready may be evicted only
    while the others meet the budget, so once two pods of a version are unready (a bad image, the
    Lattice readiness gate waiting on health checks that fail) no pod of it can be evicted, and every
    node drain (a node group upgrade) stops on them. AlwaysAllow lets the unready pods go while the
    budget still guards the Ready ones, which is what the field was made for: draining nodes under
    misbehaving apps (https://kubernetes.io/blog/2023/01/06/unhealthy-pod-eviction-policy-for-pdbs/;
    PodDisruptionBudgetSpec.unhealthyPodEvictionPolicy in the policy/v1 API, GA in 1.31).
    """
    if app.replicas <= 1:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app.name, "namespace": topology.namespace, "labels": object_labels(app)},
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": dict(app.labels)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def front_service(
    topology: Topology,
    *,
    source_ranges: Sequence[str],
    tags: Mapping[str, str],
    route_timeout_ms: int = 3000,
) -> Manifest:
    """front's public entry: a Classic Load Balancer made by the EKS cloud provider.

    Annotations (https://cloud-provider-aws.sigs.k8s.io/service_controller/): an HTTP listener and HTTP
    to the pods (``backend-protocol: http``), so the load balancer takes in clients' connections and
    passes on only whole requests over connections of its own: a client that opens connections and
    sends nothing, or sends its head a byte at a time, holds the load balancer's connections, never
    one of the few front accepts per process (passed through as TCP, a few hundred such connections
    held every front process's slots, and every request waited in the backlog). Drain connections on
    deregistration (matching the pods' shutdown delay), close idle connections after front's longest
    request and before the app would (``lb_idle_timeout_seconds``),
    balance across zones, and tag the ELB like the rest of the stack. The load balancer's own security
    group is the only place that accepts the public source ranges; nodes accept traffic from that
    security group only.
    """
    app = topology.front
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": app.name,
            "namespace": topology.namespace,
            "labels": object_labels(app),
            "annotations": {
                "service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled": "true",
                "service.beta.kubernetes.io/aws-load-balancer-connection-draining-timeout": "30",
                "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "http",
                "service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": str(
                    lb_idle_timeout_seconds(route_timeout_ms)
                ),
                "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": ",".join(
                    f"{k}={v}" for k, v in sorted(tags.items())
                ),
            },
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": dict(app.labels),
            "ports": [
                {"name": HTTP_PORT_NAME, "port": LB_PORT, "targetPort": HTTP_PORT_NAME, "protocol": "TCP"}
            ],
            "loadBalancerSourceRanges": list(source_ranges),
        },
    }


def colorapp_service(topology: Topology) -> Manifest:
    """ClusterIP Service over every colorapp version in a cluster: in-cluster callers and debugging.

    Cross-cluster callers never use it: they resolve ``colorapp.<discovery namespace>`` instead.
    """
    labels = {"app": topology.service, "app.kubernetes.io/name": topology.service, **COMMON_LABELS}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": topology.service, "namespace": topology.namespace, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": topology.service},
            "ports": [
                {
                    "name": HTTP_PORT_NAME,
                    "port": topology.port,
                    "targetPort": HTTP_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def network_policy(name: str, namespace: str, pod_selector: Mapping[str, Any], **spec: Any) -> Manifest:
    """A NetworkPolicy of the apps' namespace, over the pods ``pod_selector`` picks ({}: every one)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(COMMON_LABELS)},
        "spec": {"podSelector": dict(pod_selector), **spec},
    }


def network_policies(
    topology: Topology,
    cluster: str,
    *,
    mesh_cidrs: Sequence[str],
    aws_callers: Sequence[str] | None = None,
) -> list[Manifest]:
    """Default deny in both directions, then exactly the flows the apps and their sidecars need.

    ``mesh_cidrs`` are where mesh traffic comes from: the shared VPC, since callers in other clusters
    (and kubelet probes, and Envoy health checks) connect from VPC addresses that no pod selector of
    this cluster can name. Enforced by the VPC CNI's network policy agent (enabled on the add-on).
    ``aws_callers``: the ``app`` labels of the pods that call AWS APIs (the mesh backend says which:
    MeshBackend.app_calls_aws_apis); None for every pod of the namespace, an empty list for none.
    """
    ns = topology.namespace
    apps = topology.apps_in(cluster)
    policies = [
        network_policy("default-deny", ns, {}, policyTypes=["Ingress", "Egress"]),
        # DNS through CoreDNS, for every pod.
        network_policy("allow-dns", ns, {}, policyTypes=["Egress"], egress=[dns_egress()]),
    ]
    callers = sorted({a.app for a in apps} & set(aws_callers)) if aws_callers is not None else None
    if callers is None or callers:
        # HTTPS to AWS APIs (App Mesh's Envoy management endpoint, STS for IRSA): only for the pods
        # that call them.
        selector = (
            {"matchExpressions": [{"key": "app", "operator": "In", "values": callers}]} if callers else {}
        )
        policies.append(
            network_policy("allow-aws-apis", ns, selector, policyTypes=["Egress"], egress=[https_egress()])
        )
    if any(a.kind is AppKind.FRONT for a in apps):
        front = topology.front
        policies.append(
            network_policy(
                f"{front.name}-ingress-and-upstream",
                ns,
                match_labels(front.labels),
                policyTypes=["Ingress", "Egress"],
                # The public load balancer reaches front through node ports from anywhere it accepts.
                ingress=[{"ports": [tcp(topology.port)]}],
                egress=[
                    {"to": [{"ipBlock": {"cidr": c}} for c in mesh_cidrs], "ports": [tcp(topology.port)]}
                ],
            )
        )
    if any(a.kind is AppKind.COLORAPP for a in apps):
        policies.append(
            network_policy(
                f"{topology.service}-from-the-mesh",
                ns,
                match_labels({"app": topology.service}),
                policyTypes=["Ingress"],
                ingress=[
                    {"from": [{"ipBlock": {"cidr": c}} for c in mesh_cidrs], "ports": [tcp(topology.port)]}
                ],
            )
        )
    return policies
