"""LatticeController: the AWS Gateway API controller for VPC Lattice in one cluster.

Order matters both ways: the Gateway API CRDs (which the chart does not ship) and the controller's
IRSA role come before the Helm release, the GatewayClass after it; every Lattice object in the cluster
depends on the release, so on destroy they go first and their finalizers are cleared by a controller
that is still running.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra import iam as account_iam
from infra import kube
from infra.mesh import common
from infra.mesh.lattice import iam, objects
from infra.naming import TYPE_PREFIX, child


@dataclass(frozen=True)
class LatticeControllerArgs:
    cluster_name: str
    """Physical EKS cluster name."""
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    arns: pulumi.Output[account_iam.Arns]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    role_name: str
    chart_version: str = "v2.1.3"
    gateway_api_version: str = "v1.5.0"
    replicas: int = 2
    resync_seconds: int = 300
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class LatticeController(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    gateway_class: pulumi.CustomResource

    def __init__(
        self, name: str, args: LatticeControllerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:LatticeController", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        crds = k8s.yaml.v2.ConfigFile(
            child(name, "gateway-api-crds"),
            file=objects.gateway_api_crds_url(args.gateway_api_version),
            opts=on_cluster,
        )
        parts = common.install_controller(
            self,
            name,
            common.ControllerSpec(
                namespace=objects.CONTROLLER_NAMESPACE,
                # The chart's pods run non-root, read-only, without capabilities: restricted holds.
                enforce="restricted",
                service_account=objects.CONTROLLER_SERVICE_ACCOUNT,
                role_name=args.role_name,
                policy=args.arns.apply(iam.controller_policy),
                release_name=objects.CONTROLLER_RELEASE,
                # The Lattice CRDs ship in the chart's crds/ folder; the Gateway API ones come from `crds`.
                # Helm installs crds/ on the first install only and never upgrades it, so moving the
                # pinned chart version (LatticeConfig.controller_chart_version) must also apply the new
                # chart's helm/crds/*.yaml (as `crds` does for the Gateway API), or the cluster keeps
                # the old schemas: docs/mesh-backends.md, "Moving a pinned controller".
                chart=objects.CONTROLLER_CHART,
                version=args.chart_version,
                values=lambda role_arn: pulumi.Output.all(args.arns, args.vpc_id, role_arn).apply(
                    lambda v: objects.controller_values(
                        region=v[0].region,
                        account_id=v[0].account_id,
                        vpc_id=str(v[1]),
                        cluster_name=args.cluster_name,
                        role_arn=str(v[2]),
                        replicas=args.replicas,
                        resync_seconds=args.resync_seconds,
                    )
                ),
                vpc_cidr=args.vpc_cidr,
                before_release=[crds],
            ),
            provider=args.provider,
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer=args.oidc_issuer,
            tags=args.tags,
        )
        role = parts.role
        self.release = parts.release
        # Keep the class until the end: deleting it first leaves Gateways and routes stuck finalizing.
        self.gateway_class = kube.apply(
            child(name, "gateway-class"),
            objects.gateway_class(),
            pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[crds, self.release]),
        )
        self.register_outputs({"release": self.release.name, "roleArn": role.arn})
