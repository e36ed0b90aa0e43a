"""AppMeshController: the App Mesh controller (with its built-in sidecar injector) in one cluster.

The blog installed two charts, ``appmesh-controller`` and ``appmesh-inject``. Since controller v1.0
the injector is part of the controller; the ``appmesh-inject`` chart (last release v0.5.0, 2020) is
deprecated and its README warns against installing it beside a v1 controller, because both webhooks
would inject a sidecar. So this installs one release, and the injector's settings (tracing, proxy
readiness) are controller values; mesh membership comes from namespace labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra import iam as account_iam
from infra.config import Tracing
from infra.irsa import IrsaRole
from infra.mesh import common
from infra.mesh.appmesh import iam
from infra.naming import TYPE_PREFIX

CHART = "appmesh-controller"
CHART_REPOSITORY = "https://aws.github.io/eks-charts"
NAMESPACE = "appmesh-system"
SERVICE_ACCOUNT = "appmesh-controller"


def controller_values(
    *,
    region: str,
    account_id: str,
    cluster_name: str,
    role_arn: str,
    tracing: Tracing,
    replicas: int,
) -> dict[str, Any]:
    """Helm values for eks-charts appmesh-controller 1.13.3.

    Chart defaults: ../shared/reference/appmesh-controller-values.yaml.
    """
    values: dict[str, Any] = {
        "region": region,
        "accountId": account_id,
        "clusterName": cluster_name,
        "replicaCount": replicas,
        "serviceAccount": {
            "create": True,
            "name": SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "sidecar": {
            # Hold the app container until Envoy is ready, so its first outbound call doesn't fail.
            "waitUntilProxyReady": True,
            "logLevel": "info",
        },
        "tracing": {
            "enabled": tracing is Tracing.XRAY,
            "provider": "x-ray",
            "port": 2000,
            "samplingRate": 0.05,
        },
        "log": {"level": "info"},
    }
    if replicas > 1:
        values["podDisruptionBudget"] = {"minAvailable": 1}
    return values


@dataclass(frozen=True)
class AppMeshControllerArgs:
    cluster_name: str
    """Physical EKS cluster name."""
    provider: k8s.Provider
    """This cluster's Kubernetes provider."""
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    arns: pulumi.Output[account_iam.Arns]
    mesh_name: str
    cloud_map_namespace_arn: pulumi.Input[str]
    cloud_map_hosted_zone_id: pulumi.Input[str]
    role_name: str
    tracing: Tracing = Tracing.NONE
    chart_version: str = "1.13.3"
    replicas: int = 1
    vpc_cidr: str | None = None
    """When set, the namespace admits ingress only from the VPC (the API server calls the injection
    webhook from control-plane network interfaces in the VPC)."""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class AppMeshController(pulumi.ComponentResource):
    """Namespace, IRSA role and Helm release; the release waits for its role's permissions."""

    release: k8s.helm.v3.Release
    role: IrsaRole

    def __init__(
        self, name: str, args: AppMeshControllerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:AppMeshController", name, None, opts)
        policy = pulumi.Output.all(
            args.arns, args.cloud_map_namespace_arn, args.cloud_map_hosted_zone_id
        ).apply(
            lambda v: iam.controller_policy(
                v[0], mesh=args.mesh_name, cloud_map_namespace_arn=str(v[1]), hosted_zone_id=str(v[2])
            )
        )
        parts = common.install_controller(
            self,
            name,
            common.ControllerSpec(
                namespace=NAMESPACE,
                # The controller pod runs as non-root without privileges: baseline holds, restricted warns.
                enforce="baseline",
                service_account=SERVICE_ACCOUNT,
                role_name=args.role_name,
                policy=policy,
                release_name=CHART,
                chart=CHART,
                version=args.chart_version,
                repository=CHART_REPOSITORY,
                values=lambda role_arn: pulumi.Output.all(args.arns, role_arn).apply(
                    lambda v: controller_values(
                        region=v[0].region,
                        account_id=v[0].account_id,
                        cluster_name=args.cluster_name,
                        role_arn=str(v[1]),
                        tracing=args.tracing,
                        replicas=args.replicas,
                    )
                ),
                vpc_cidr=args.vpc_cidr,
            ),
            provider=args.provider,
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer=args.oidc_issuer,
            tags=args.tags,
        )
        self.role = parts.role
        self.release = parts.release
        self.register_outputs({"release": self.release.name, "roleArn": self.role.arn})
