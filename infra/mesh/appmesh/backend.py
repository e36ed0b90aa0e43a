"""The App Mesh backend: App Mesh controller per cluster, Cloud Map service discovery across them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar

import pulumi

from infra import iam as account_iam
from infra.config import MeshBackendKind, Tracing
from infra.config_limits import ComposedName
from infra.cross_cluster import AccessRule
from infra.mesh.appmesh import controller, iam, names, objects
from infra.mesh.appmesh.controller import AppMeshController, AppMeshControllerArgs
from infra.mesh.appmesh.routing import AppMeshObjects, AppMeshObjectsArgs
from infra.mesh.backend import (
    ClusterHandle,
    MeshBackend,
    MeshContext,
    PodSecurityException,
    VerifyTargets,
    mermaid_header,
    mermaid_id,
)
from infra.naming import physical
from infra.topology import AppSpec, Topology

# The eks-charts appmesh-controller pod template sets no seccomp profile, runAsNonRoot or dropped
# capabilities; the injected proxyinit container needs NET_ADMIN.
CONTROLLER_POD_SECURITY = PodSecurityException(
    "baseline",
    "the eks-charts appmesh-controller pod template sets no seccomp profile, runAsNonRoot or "
    "dropped capabilities, which restricted requires",
)
INJECTED_POD_SECURITY = PodSecurityException(
    "privileged",
    "App Mesh injects proxyinit, which needs NET_ADMIN; baseline and restricted forbid that capability",
)


MIGRATION_GUIDE = "docs/migration.md"
END_OF_SUPPORT = "2026-09-30"


class AppMeshBackend(MeshBackend):
    kind: ClassVar[MeshBackendKind] = MeshBackendKind.APPMESH
    # Weighted targets per route: App Mesh service quotas
    # (https://docs.aws.amazon.com/app-mesh/latest/userguide/service-quotas.html).
    max_weighted_targets = (10, "App Mesh takes at most 10 weighted targets per route")

    def unavailable(self) -> tuple[str, str]:
        return (
            f"AWS App Mesh ended on {END_OF_SUPPORT}: no account can reach its API or resources any more, so "
            f"stack {self.config.stack!r} (crossmesh:mesh.backend: appmesh) cannot be deployed; nothing was "
            "created.",
            "Deploy an environment on VPC Lattice instead (dev, staging and prod use it: "
            f"`python -m automation deploy dev`). {MIGRATION_GUIDE} says how to tear down a stack "
            "deployed before that date and move to a new Lattice stack. `python -m automation render "
            "appmesh` still renders this topology offline.",
        )

    def state_markers(self) -> frozenset[str]:
        return frozenset({"crossmesh:infra:AppMeshController", "crossmesh:infra:AppMeshObjects"})

    @property
    def tracing(self) -> bool:
        return self.config.mesh.tracing is Tracing.XRAY

    # --- decisions from the configuration alone ---------------------------------------------------

    def namespace_labels(self, cluster: str) -> Mapping[str, str]:
        return objects.namespace_labels(self.config.mesh.name)

    def composed_names(self, topology: Topology) -> Iterator[ComposedName]:
        return names.composed_names(self.config, topology)

    def traffic_cidrs(self) -> Sequence[str]:
        # Envoys of other clusters (and kubelet probes, Envoy health checks) come from VPC addresses.
        return [self.config.network.cidr]

    def cross_cluster_rules(self, topology: Topology) -> tuple[AccessRule, ...]:
        """front's Envoy connects straight to colorapp pod IPs (found in Cloud Map) on the app port, so
        every cluster running a colorapp version must accept that port from front's cluster. Same-cluster
        traffic is already allowed by the cluster security group's self rule."""
        front = topology.front
        rules = {
            AccessRule(front.cluster, app.cluster, topology.port, f"{front.name} to {app.name} mesh traffic")
            for app in topology.colors
            if app.cluster != front.cluster
        }
        return tuple(sorted(rules))

    def app_environment(self, app: AppSpec, topology: Topology) -> Mapping[str, str]:
        """Nothing beyond the common environment: Envoy enforces the route's deadline and retries, which
        is what the apps' defaults assume (front does not retry), and the apps send their spans to the
        cluster's collector (OTLP) on either backend. The injected X-Ray daemon carries Envoy's own
        spans only; no app reads its address."""
        return {}

    def pod_annotations(
        self, *, mesh_member: bool, ports_outside_mesh: Sequence[int] = ()
    ) -> Mapping[str, str]:
        return objects.pod_annotations(mesh_member=mesh_member, ports_outside_mesh=ports_outside_mesh)

    def pod_security_exceptions(self, topology: Topology) -> Mapping[str, PodSecurityException]:
        return {controller.NAMESPACE: CONTROLLER_POD_SECURITY, topology.namespace: INJECTED_POD_SECURITY}

    def controller_release(self) -> str:
        return f"{controller.NAMESPACE}/{controller.CHART}"

    def verify_targets(self, topology: Topology) -> VerifyTargets:
        namespace = topology.namespace
        return VerifyTargets(
            virtual_node_names={
                app.version or app.name: objects.aws_name(app.name, namespace) for app in topology.colors
            },
            router_name=objects.aws_name(objects.router_name(topology), namespace),
            route_name=objects.ROUTE_NAME,
            front_node_name=objects.aws_name(topology.front.name, namespace),
            tracing=self.tracing,
        )

    def diagram(self, topology: Topology) -> str:
        config = self.config
        front = topology.front
        host = topology.service_host
        lines = mermaid_header(config)
        for cluster in config.clusters:
            lines.append(f'    subgraph {mermaid_id(cluster.name)}["EKS {config.eks_name(cluster.name)}"]')
            if cluster.name == front.cluster:
                lines.append(f'      {mermaid_id(front.name)}["{front.name}<br/>VirtualNode {front.name}"]')
            if cluster.name == topology.router_cluster:
                lines.append(f'      vs[["VirtualService<br/>{host}"]]')
                lines.append('      router{{"VirtualRouter colorapp-router<br/>route color-route"}}')
            for app in topology.colors:
                if app.cluster == cluster.name:
                    lines.append(
                        f'      {mermaid_id(app.name)}["{app.name}<br/>VirtualNode, COLOR={app.version}"]'
                    )
            lines.append("    end")
        lines.append(f'    cloudmap[("Cloud Map {topology.discovery_namespace}")]')
        lines.append("  end")
        lines.append(f"  lb --> {mermaid_id(front.name)}")
        lines.append(f'  {mermaid_id(front.name)} -->|"{host}:{topology.port}"| vs')
        lines.append("  vs --> router")
        for app in topology.colors:
            lines.append(f'  router -->|"{app.weight}%"| {mermaid_id(app.name)}')
            lines.append(f"  {mermaid_id(app.name)} -. registers .-> cloudmap")
        lines.append(f"  {mermaid_id(front.name)} -. registers .-> cloudmap")
        return "\n".join(lines)

    # --- deploy time ---------------------------------------------------------------------------------

    def install(
        self, name: str, cluster: ClusterHandle, context: MeshContext, opts: pulumi.ResourceOptions
    ) -> AppMeshController:
        config = self.config
        return AppMeshController(
            name,
            AppMeshControllerArgs(
                cluster_name=cluster.eks_name,
                provider=cluster.provider,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                arns=context.arns,
                mesh_name=config.mesh.name,
                cloud_map_namespace_arn=context.discovery.arn,
                cloud_map_hosted_zone_id=context.discovery.hosted_zone_id,
                role_name=physical(config.stack, cluster.key, "appmesh-controller"),
                tracing=config.mesh.tracing,
                chart_version=config.mesh.controller_chart_version,
                replicas=config.mesh.controller_replicas,
                vpc_cidr=config.network.cidr,
                tags=context.tags,
            ),
            opts,
        )

    def pod_policy(self, app: AppSpec, context: MeshContext) -> pulumi.Output[account_iam.PolicyDocument]:
        config = self.config
        node = objects.aws_name(app.name, config.workloads.namespace)
        xray = self.tracing
        return context.arns.apply(
            lambda arns: iam.envoy_policy(arns, mesh=config.mesh.name, virtual_node=node, xray=xray)
        )

    def connect(
        self,
        name: str,
        topology: Topology,
        clusters: Mapping[str, ClusterHandle],
        prerequisites: Mapping[str, Sequence[pulumi.Resource]],
        *,
        context: MeshContext,
        opts: pulumi.ResourceOptions,
    ) -> Mapping[str, Sequence[pulumi.Resource]]:
        mesh = self.config.mesh

        def arn_of(kind: str, aws_name: str) -> pulumi.Output[str]:
            """ARN of an object in this mesh; the account is known at deploy time."""
            return context.arns.apply(lambda arns: iam.object_arn(arns, mesh.name, kind, aws_name))

        created = AppMeshObjects(
            name,
            AppMeshObjectsArgs(
                topology=topology,
                mesh_name=mesh.name,
                egress_filter=mesh.egress_filter,
                route=mesh.route,
                arn_of=arn_of,
                providers={key: clusters[key].provider for key in topology.clusters},
                prerequisites={
                    key: [*prerequisites.get(key, ()), context.discovery.resource]
                    for key in topology.clusters
                },
            ),
            opts,
        )
        # Pods need their node (else the injector finds none and they run without Envoy) and the
        # controller, whose webhook injects the sidecar.
        return {
            app.name: [created.nodes[app.name], *prerequisites.get(app.cluster, ())] for app in topology.apps
        }
