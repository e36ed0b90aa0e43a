"""TraceCollector: one AWS Distro for OpenTelemetry collector per cluster, sending the apps' spans to X-Ray.

The apps export OTLP/HTTP to ``otel-collector.<namespace>:4318`` (``manifests.collector_endpoint``);
the collector batches the spans and sends them with the awsxray exporter (PutTraceSegments), on an
IRSA role of its own that may do exactly that. It exists only when ``mesh.tracing`` is ``x-ray``, on
either mesh backend: tracing no longer depends on a sidecar the mesh injects.

Collector configuration: https://aws-otel.github.io/docs/getting-started/adot-eks-add-on/config-xray
(OTLP receiver, awsxray exporter); permissions: https://aws-otel.github.io/docs/setup/permissions
(only the two X-Ray write actions are granted: this collector neither publishes metrics nor serves
remote sampling rules).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from infra import kube
from infra.irsa import IrsaRole, IrsaRoleArgs
from infra.naming import TYPE_PREFIX, child
from infra.network_policy import https_egress, match_labels, tcp
from workloads.deploy.manifests import (
    APP_UID,
    COLLECTOR_NAME,
    COMMON_LABELS,
    OTLP_HTTP_PORT,
    Deferred,
    Manifest,
    container_security_context,
    network_policy,
)

IMAGE = (
    "public.ecr.aws/aws-observability/aws-otel-collector:v0.48.0"
    "@sha256:9b28046359054b414f4ba76056ba4e8cffda2d53fbcee06171d7eeecd71326c3"
)
"""The ADOT collector release, pinned by digest."""
HEALTH_PORT = 13133
CONFIG_DIR = "/conf"
LABELS = {"app": COLLECTOR_NAME, "app.kubernetes.io/name": COLLECTOR_NAME, **COMMON_LABELS}
SELECTOR = {"app": COLLECTOR_NAME}


def xray_write_policy() -> dict[str, Any]:
    """X-Ray's write actions; they take no resource-level restriction, hence ``*``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SendTraces",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }
        ],
    }


def collector_config(region: str) -> dict[str, Any]:
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"}}}},
        "processors": {
            # Refuse data before the container's memory limit is reached, then batch the sends.
            "memory_limiter": {"check_interval": "1s", "limit_mib": 200, "spike_limit_mib": 50},
            "batch": {"timeout": "1s"},
        },
        "exporters": {"awsxray": {"region": region}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["awsxray"],
                }
            },
        },
    }


def config_map(namespace: str, region: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": COLLECTOR_NAME, "namespace": namespace, "labels": dict(LABELS)},
        "data": {"config.yaml": yaml.safe_dump(collector_config(region), sort_keys=True)},
    }


def service_account(namespace: str, role_arn: Deferred) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": COLLECTOR_NAME,
            "namespace": namespace,
            "labels": dict(LABELS),
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "automountServiceAccountToken": False,
    }


def deployment(
    namespace: str, region: str, replicas: int = 1, annotations: Mapping[str, str] | None = None
) -> Manifest:
    """``annotations``: the mesh backend's, on the pod template (MeshBackend.pod_annotations)."""
    probe = {"httpGet": {"path": "/", "port": HEALTH_PORT}, "periodSeconds": 10, "timeoutSeconds": 2}
    # A changed configuration rolls the pods, which read it only at start.
    config_hash = hashlib.sha256(json.dumps(collector_config(region), sort_keys=True).encode()).hexdigest()[
        :16
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": COLLECTOR_NAME, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": dict(SELECTOR)},
            "template": {
                "metadata": {
                    "labels": dict(LABELS),
                    "annotations": {**(annotations or {}), "crossmesh/config-hash": config_hash},
                },
                "spec": {
                    "serviceAccountName": COLLECTOR_NAME,
                    "automountServiceAccountToken": False,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "collector",
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "args": [f"--config={CONFIG_DIR}/config.yaml"],
                            "ports": [
                                {"name": "otlp-http", "containerPort": OTLP_HTTP_PORT, "protocol": "TCP"},
                                {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
                            ],
                            "readinessProbe": {**probe, "failureThreshold": 2},
                            "livenessProbe": {**probe, "failureThreshold": 3, "initialDelaySeconds": 5},
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "securityContext": {**container_security_context(), "runAsUser": APP_UID},
                            "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": COLLECTOR_NAME}}],
                },
            },
        },
    }


def service(namespace: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": COLLECTOR_NAME, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "type": "ClusterIP",
            "selector": dict(SELECTOR),
            "ports": [
                {"name": "otlp-http", "port": OTLP_HTTP_PORT, "targetPort": "otlp-http", "protocol": "TCP"}
            ],
        },
    }


def network_policies(namespace: str) -> list[Manifest]:
    """The namespace denies by default: open OTLP from the namespace's pods to the collector, and the
    collector's own HTTPS to X-Ray and STS (at addresses behind the NAT gateway no CIDR can pin)."""
    port = [tcp(OTLP_HTTP_PORT)]
    collector = match_labels(SELECTOR)
    return [
        network_policy(
            "otlp-to-the-collector",
            namespace,
            {},
            policyTypes=["Egress"],
            egress=[{"to": [{"podSelector": collector}], "ports": port}],
        ),
        network_policy(
            f"{COLLECTOR_NAME}-from-the-namespace",
            namespace,
            collector,
            policyTypes=["Ingress"],
            ingress=[{"from": [{"podSelector": {}}], "ports": port}],
        ),
        network_policy(
            f"{COLLECTOR_NAME}-to-aws-apis",
            namespace,
            collector,
            policyTypes=["Egress"],
            egress=[https_egress()],
        ),
    ]


@dataclass(frozen=True)
class TraceCollectorArgs:
    namespace: str
    provider: k8s.Provider
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    role_name: str
    """Physical IAM role name, unique per stack and cluster (e.g. ``crossmesh-dev-eksc1-otel-collector``)."""
    after: pulumi.Resource
    """The apps' namespace."""
    pod_annotations: Mapping[str, str] = field(default_factory=dict[str, str])
    """The mesh backend's annotations of the collector's pod template (MeshBackend.pod_annotations)."""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class TraceCollector(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: TraceCollectorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:TraceCollector", name, None, opts)
        role = IrsaRole(
            child(name, "irsa"),
            IrsaRoleArgs(
                role_name=args.role_name,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                namespace=args.namespace,
                service_account=COLLECTOR_NAME,
                policy=xray_write_policy(),
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.after])
        account = kube.apply(child(name, "sa"), service_account(args.namespace, role.arn), on_cluster)
        config = kube.apply(child(name, "config"), config_map(args.namespace, args.region), on_cluster)
        for policy in network_policies(args.namespace):
            kube.apply(child(name, f"netpol-{policy['metadata']['name']}"), policy, on_cluster)
        kube.apply(child(name, "service"), service(args.namespace), on_cluster)
        kube.apply(
            child(name, "deployment"),
            deployment(args.namespace, args.region, annotations=args.pod_annotations),
            pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[account, config])),
        )
        self.register_outputs({"role": role.arn})
