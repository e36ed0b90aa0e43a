"""The VPC Lattice backend: the AWS Gateway API controller per cluster, one service network.

Same apps, same Deployments, same name for front to call; no sidecars, so no per-pod IAM and the
strictest Pod Security level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import pulumi

from infra import iam
from infra.config import MeshBackendKind
from infra.mesh import lattice_objects
from infra.mesh.backend import ClusterHandle, MeshBackend
from infra.mesh.lattice_controller import LatticeController, LatticeControllerArgs
from infra.mesh.lattice_routing import LatticeRouting, LatticeRoutingArgs
from infra.naming import physical
from infra.topology import AppSpec, Topology


class LatticeBackend(MeshBackend):
    kind: ClassVar[MeshBackendKind] = MeshBackendKind.LATTICE

    def install(self, name: str, cluster: ClusterHandle, opts: pulumi.ResourceOptions) -> LatticeController:
        config = self.context.config
        return LatticeController(
            name,
            LatticeControllerArgs(
                cluster_name=cluster.eks_name,
                provider=cluster.provider,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                arns=self.context.arns,
                vpc_id=self.context.vpc_id,
                vpc_cidr=config.network.cidr,
                role_name=physical(config.stack, cluster.key, "lattice-controller"),
                chart_version=config.mesh.lattice.controller_chart_version,
                gateway_api_version=config.mesh.lattice.gateway_api_version,
                replicas=config.mesh.lattice.controller_replicas,
                tags=self.context.tags,
            ),
            opts,
        )

    def namespace_labels(self) -> Mapping[str, str]:
        return lattice_objects.namespace_labels()

    def pod_policy(self, app: AppSpec) -> pulumi.Output[iam.PolicyDocument] | None:
        return None  # no sidecar calls AWS on the pods' behalf

    def traffic_cidrs(self) -> Sequence[str]:
        # Lattice's data plane (link-local), plus the VPC for kubelet probes.
        return [self.context.config.network.cidr, lattice_objects.LATTICE_DATA_PLANE_CIDR]

    def connect(
        self,
        name: str,
        topology: Topology,
        clusters: Mapping[str, ClusterHandle],
        prerequisites: Mapping[str, Sequence[pulumi.Resource]],
        opts: pulumi.ResourceOptions,
    ) -> Mapping[str, Sequence[pulumi.Resource]]:
        config = self.context.config
        LatticeRouting(
            name,
            LatticeRoutingArgs(
                topology=topology,
                service_network=config.service_network_name,
                region=config.region,
                vpc_id=self.context.vpc_id,
                hosted_zone_id=self.context.discovery.hosted_zone_id,
                providers={key: clusters[key].provider for key in topology.clusters},
                eks_names={key: clusters[key].eks_name for key in topology.clusters},
                node_security_groups={key: clusters[key].node_security_group_id for key in topology.clusters},
                prerequisites=prerequisites,
                tags=self.context.tags,
            ),
            opts,
        )
        # Pods wait for the controller: its webhook adds the Lattice readiness gate at pod creation.
        return {app.name: list(prerequisites.get(app.cluster, ())) for app in topology.apps}
