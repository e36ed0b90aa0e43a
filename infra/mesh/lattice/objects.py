"""VPC Lattice backend objects (AWS Gateway API controller v2.1.3) as pure functions.

Field names follow the CRDs in ../shared/reference (lattice-crds.yaml, gateway-api-standard-crds.yaml),
which the tests validate every object against. Layout, as in the controller's multi-cluster guide
(aws/aws-application-networking-k8s docs/guides/getstarted.md): each colorapp version is a Service
exported from the cluster that runs it (ServiceExport), imported into front's cluster
(ServiceImport), and joined there by one weighted HTTPRoute whose hostname is the name front calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config import LatticeHealthCheckConfig
from infra.data import as_mapping, mapping_or_empty
from infra.topology import COMMON_LABELS, HTTP_PORT_NAME, AppSpec, Topology

Manifest = dict[str, Any]
Deferred = Any
"""A string, or a value known only at deploy time (a Pulumi Output)."""

GATEWAY_API = "gateway.networking.k8s.io/v1"
LATTICE_API = "application-networking.k8s.aws/v1alpha1"
LATTICE_GROUP = "application-networking.k8s.aws"
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_CLASS = "amazon-vpc-lattice"
CONTROLLER_NAME = "application-networking.k8s.aws/gateway-api-controller"
LISTENER = "http"
FEDERATION = "application-networking.k8s.aws/federation"
CLUSTER_NAME_ANNOTATION = "application-networking.k8s.aws/aws-eks-cluster-name"
ASSIGNED_DOMAIN = "application-networking.k8s.aws/lattice-assigned-domain-name"
READINESS_GATE_LABEL = "application-networking.k8s.aws/pod-readiness-gate-inject"
WAIT_FOR = "pulumi.com/waitFor"

CONTROLLER_CHART = "oci://public.ecr.aws/aws-application-networking-k8s/aws-gateway-controller-chart"
CONTROLLER_NAMESPACE = "aws-application-networking-system"
CONTROLLER_SERVICE_ACCOUNT = "gateway-api-controller"
CONTROLLER_RELEASE = "gateway-api-controller"
CONTROLLER_POD_LABELS = {
    "app.kubernetes.io/name": "aws-gateway-controller-chart",
    "app.kubernetes.io/instance": CONTROLLER_RELEASE,
}
"""The selector of the chart's Deployment (and of its optional PodDisruptionBudget): the chart's name
(helm/Chart.yaml, no nameOverride) and the release's (helm/templates/deployment.yaml, v2.1.3)."""


def gateway_api_crds_url(version: str) -> str:
    """The Gateway API standard channel; controller v2.1.x refuses to start without its v1.5 CRDs
    (TLSRoute included), which its chart does not ship."""
    return f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{version}/standard-install.yaml"


def controller_values(
    *,
    region: str,
    account_id: str,
    vpc_id: str,
    cluster_name: str,
    role_arn: str,
    replicas: int,
    resync_seconds: int = 300,
) -> dict[str, Any]:
    """Helm values for aws-gateway-controller-chart v2.1.3.

    Chart defaults: ../shared/reference/lattice-controller-values.yaml.

    Region, account, VPC and cluster name are given explicitly: the nodes' IMDS hop limit of 1 keeps
    the controller from discovering them, and the cluster name tells the two clusters' target groups
    apart in the one shared VPC.
    """
    return {
        "awsRegion": region,
        "awsAccountId": account_id,
        "clusterVpcId": vpc_id,
        "clusterName": cluster_name,
        "serviceAccount": {
            "create": True,
            "name": CONTROLLER_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "deployment": {
            "replicas": replicas,
            # Replicas on different nodes and zones when there is room; never refuse to schedule
            # (the release waits for every replica, and dev runs few nodes).
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": key,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": dict(CONTROLLER_POD_LABELS)},
                }
                for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
            ],
        },
        # The chart ships no budget (pdb.enabled: false), so a node drain may evict every replica at
        # once: the readiness-gate webhook then refuses every pod of the gated namespace (failurePolicy
        # Fail), the replacements of the pods evicted with it included, and no one deregisters those
        # pods' Lattice targets while they stop. One replica at a time, when there is more than one.
        "pdb": {"enabled": True, "maxUnavailable": 1} if replicas > 1 else {"enabled": False},
        "log": {"level": "info"},
        # Periodic resync (off unless set): a pod's readiness gate that was injected before its
        # export was wired to a route is re-evaluated, instead of leaving the pod unready for good.
        "reconcileDefaultResyncSeconds": resync_seconds,
    }


def gateway_class() -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "GatewayClass",
        "metadata": {"name": GATEWAY_CLASS, "labels": dict(COMMON_LABELS)},
        "spec": {"controllerName": CONTROLLER_NAME},
    }


def gateway(service_network: str, topology: Topology) -> Manifest:
    """Named after the service network (the controller looks the network up by this name); one HTTP
    listener on the app port, so callers keep using ``:<port>``."""
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": service_network, "namespace": topology.namespace, "labels": dict(COMMON_LABELS)},
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "listeners": [{"name": LISTENER, "protocol": "HTTP", "port": topology.port}],
        },
    }


def version_service(app: AppSpec, topology: Topology) -> Manifest:
    """One ClusterIP Service per colorapp version: each becomes its own target group, so each can
    carry its own weight (the shared ``colorapp`` Service selects every version)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": app.name,
            "namespace": topology.namespace,
            "labels": {**app.labels, **COMMON_LABELS},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": dict(app.labels),
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


def service_export(app: AppSpec, topology: Topology) -> Manifest:
    # Without the federation annotation the controller ignores the export silently.
    return {
        "apiVersion": LATTICE_API,
        "kind": "ServiceExport",
        "metadata": {
            "name": app.name,
            "namespace": topology.namespace,
            "annotations": {FEDERATION: "amazon-vpc-lattice"},
        },
        "spec": {"exportedPorts": [{"port": topology.port, "routeType": "HTTP"}]},
    }


def target_group_policy(
    app: AppSpec, topology: Topology, health: LatticeHealthCheckConfig | None = None
) -> Manifest:
    """HTTP health checks on the pods' own port (path and thresholds from ``mesh.lattice.healthCheck``);
    Lattice stops sending to a failing target."""
    health = health or LatticeHealthCheckConfig()
    return {
        "apiVersion": LATTICE_API,
        "kind": "TargetGroupPolicy",
        "metadata": {"name": app.name, "namespace": topology.namespace},
        "spec": {
            "targetRef": {"group": LATTICE_GROUP, "kind": "ServiceExport", "name": app.name},
            "protocol": "HTTP",
            "protocolVersion": "HTTP1",
            "healthCheck": {
                "enabled": True,
                "path": health.path,
                "port": topology.port,
                "protocol": "HTTP",
                "protocolVersion": "HTTP1",
                "intervalSeconds": health.interval_seconds,
                "timeoutSeconds": health.timeout_seconds,
                "healthyThresholdCount": health.healthy_threshold,
                "unhealthyThresholdCount": health.unhealthy_threshold,
                "statusMatch": health.status_match,
            },
        },
    }


def service_import(app: AppSpec, topology: Topology, exporting_cluster: str) -> Manifest:
    """Imports a version exported by another cluster; the cluster name picks the right target group,
    as both clusters share one VPC."""
    return {
        "apiVersion": LATTICE_API,
        "kind": "ServiceImport",
        "metadata": {
            "name": app.name,
            "namespace": topology.namespace,
            "annotations": {CLUSTER_NAME_ANNOTATION: exporting_cluster},
        },
        "spec": {"type": "ClusterSetIP", "ports": [{"port": topology.port, "protocol": "TCP"}]},
    }


SERVICE_NAME_OVERRIDE = "application-networking.k8s.aws/service-name-override"
"""The route's annotation naming the Lattice service the controller makes of it (controller v2.x,
docs/guides/service-name-override.md in github.com/aws/aws-application-networking-k8s: read when the
route is created, 3-40 characters of a-z, 0-9 and single '-', not starting with ``svc-``)."""


def lattice_service_name(service: str, stack: str) -> str:
    """The Lattice service made of colorapp's route: ``<service>-<stack>``.

    Lattice service names are unique per account and region
    (https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_CreateService.html). Without the
    override the controller names it ``<route>-<namespace>``, which every environment of this project
    shares (``colorapp-appmesh-demo``), so two stacks in one account would claim one service.
    """
    return f"{service}-{stack}"


def http_route(topology: Topology, service_network: str, lattice_service: str) -> Manifest:
    """The weighted route, named by the host front calls (the Lattice service's custom domain), and
    the Lattice service it becomes named per stack (:func:`lattice_service_name`).

    Pulumi waits until the controller writes the Lattice-assigned DNS name back, so the DNS record
    that points the custom domain at it can be created right after.
    """
    backends = [
        # group set explicitly: the controller re-reconciles a route on ServiceImport changes only
        # when the backendRef names its group (pkg/controllers/eventhandlers/mapper.go).
        {"group": LATTICE_GROUP, "kind": "ServiceImport", "name": app.name, "weight": app.weight or 0}
        for app in topology.colors
    ]
    escaped = ASSIGNED_DOMAIN.replace(".", "\\.")
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {
            "name": topology.service,
            "namespace": topology.namespace,
            "annotations": {
                WAIT_FOR: f"jsonpath={{.metadata.annotations.{escaped}}}",
                SERVICE_NAME_OVERRIDE: lattice_service,
            },
        },
        "spec": {
            "hostnames": [topology.service_host],
            "parentRefs": [{"name": service_network, "sectionName": LISTENER}],
            "rules": [{"backendRefs": backends}],
        },
    }


def iam_auth_policy(topology: Topology, policy: Deferred) -> Manifest:
    """The colorapp Lattice service's auth policy, attached through the route it is made from.

    On an IAMAuthPolicy the controller sets the targeted service's authType to AWS_IAM and attaches
    ``policy`` (the CRD's own description, ../shared/reference/lattice-crds.yaml; policy elements:
    https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html). ``policy`` is JSON text.
    """
    return {
        "apiVersion": LATTICE_API,
        "kind": "IAMAuthPolicy",
        "metadata": {
            "name": f"{topology.service}-invoke",
            "namespace": topology.namespace,
            "labels": dict(COMMON_LABELS),
        },
        "spec": {
            "targetRef": {"group": GATEWAY_GROUP, "kind": "HTTPRoute", "name": topology.service},
            "policy": policy,
        },
    }


def namespace_labels(*, readiness_gates: bool) -> Mapping[str, str]:
    """No sidecars, so the namespace enforces the restricted Pod Security level. Where colorapp's
    exported Services are (``readiness_gates``), pods get the controller's readiness gate (Ready only
    once Lattice reports the target healthy). Nowhere else: the label puts every pod created in the
    namespace through the controller's webhook, which fails closed (failurePolicy: Fail in the chart's
    webhook.yaml), while it only gates pods behind an exported Service (docs/guides/pod-readiness-gates.md
    in aws/aws-application-networking-k8s); so front's pods could not be created while the webhook
    was down, for nothing."""
    gate = {READINESS_GATE_LABEL: "enabled"} if readiness_gates else {}
    return {
        **gate,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }


# VPC Lattice reaches targets from the addresses in the managed prefix list
# com.amazonaws.<region>.vpc-lattice ("either private link-local IPs or non-routeable public IPs":
# https://docs.aws.amazon.com/vpc-lattice/latest/ug/security-groups.html). Security groups use the
# prefix list itself; NetworkPolicies need CIDRs, so they admit these, and the deploy's preflight reads
# the region's list and stops before anything is made if it holds a range outside them
# (automation/verify/backends/lattice.py, check_lattice_prefix_list).
LATTICE_DATA_PLANE_CIDRS = ("169.254.171.0/24",)

# How long VPC Lattice keeps an idle connection to a target open: the service's idleTimeoutSeconds,
# "If you don't specify a value, the default is 60 seconds" (CreateService in the VPC Lattice API;
# 60 is also its least value). The controller pinned here (v2.1.3) sets none, so every service has 60.
# v2.1.4 adds a route annotation (application-networking.k8s.aws/idle-timeout-seconds) that sets it:
# whoever sets that must move colorapp's keep-alive with it (target_keep_alive_ms).
LATTICE_TARGET_IDLE_TIMEOUT_SECONDS = 60


def target_keep_alive_ms() -> int:
    """How long colorapp keeps an idle connection: a second past Lattice's idle timeout, so Lattice,
    not the app, closes a connection it pools. Were it the other way round, Lattice could send a
    request on a connection the app is closing, and front would see a failed call that no request of
    its own caused (the ordering the Elastic Load Balancing guides ask of targets too)."""
    return (LATTICE_TARGET_IDLE_TIMEOUT_SECONDS + 1) * 1000


def assigned_domain(metadata: object) -> str:
    """The Lattice-assigned DNS name from an HTTPRoute's metadata (a plain dict or an ObjectMeta)."""
    found = as_mapping(metadata)
    annotations = found.get("annotations") if found is not None else getattr(metadata, "annotations", None)
    value = mapping_or_empty(annotations).get(ASSIGNED_DOMAIN)
    if not value:
        raise ValueError(f"the HTTPRoute has no {ASSIGNED_DOMAIN} annotation yet")
    return str(value)
