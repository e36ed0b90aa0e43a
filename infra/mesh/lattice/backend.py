"""The VPC Lattice backend: the AWS Gateway API controller per cluster, one service network.

Same apps, same Deployments, same name for front to call; no sidecars, so no per-pod IAM and the
strictest Pod Security level.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import ClassVar

import pulumi

from infra import iam as account_iam
from infra.config import LatticeAuth, MeshBackendKind
from infra.config_limits import ComposedName
from infra.config_parse import Problem
from infra.cross_cluster import AccessRule
from infra.known import known_regions, service_regions
from infra.mesh.backend import (
    ClusterHandle,
    MeshBackend,
    MeshContext,
    PodSecurityException,
    VerifyTargets,
    mermaid_header,
    mermaid_id,
)
from infra.mesh.lattice import iam, names, objects
from infra.mesh.lattice.auth import LatticeAuthPolicies, LatticeAuthPoliciesArgs, caller_names
from infra.mesh.lattice.controller import LatticeController, LatticeControllerArgs
from infra.mesh.lattice.routing import LatticeRouting, LatticeRoutingArgs
from infra.naming import cluster_prefix, physical
from infra.topology import AppKind, AppSpec, Topology


class LatticeBackend(MeshBackend):
    kind: ClassVar[MeshBackendKind] = MeshBackendKind.LATTICE
    _routing: LatticeRouting

    def state_markers(self) -> frozenset[str]:
        return frozenset({"crossmesh:infra:LatticeController", "crossmesh:infra:LatticeRouting"})

    # --- decisions from the configuration alone ---------------------------------------------------

    # backendRefs per rule of a Gateway API HTTPRoute: maxItems 16 in the HTTPRoute CRD (v1.5.0).
    # A Lattice rule forwards to at most 10 target groups (ForwardAction.targetGroups, 1-10 items:
    # https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_ForwardAction.html), fewer than
    # the 16 backendRefs an HTTPRoute rule may list: past 10 the controller never makes the rule.
    max_weighted_targets = (10, "a VPC Lattice rule forwards to at most 10 target groups")

    def config_problems(self, app_names: Iterable[ComposedName] = ()) -> list[Problem]:
        problems = super().config_problems(app_names)
        # VPC Lattice is offered in fewer regions than EKS (its endpoints:
        # https://docs.aws.amazon.com/general/latest/gr/vpc-lattice-service.html, which botocore's
        # endpoint data follows). Elsewhere the controller could never create the service network, and
        # the network and clusters would be built first.
        offered = service_regions("vpc-lattice")
        region = self.config.region
        if offered and region not in offered:
            problems.insert(
                0,
                Problem(
                    "aws:region",
                    region,
                    f"VPC Lattice has no endpoint in {region} (as botocore knows them; a region newer "
                    "than the installed botocore needs a newer botocore); expected a region with both "
                    f"EKS and VPC Lattice: {', '.join(sorted(offered & known_regions()))}",
                ),
            )
        return problems

    def namespace_labels(self, cluster: str) -> Mapping[str, str]:
        exported = {version.cluster for version in self.config.workloads.colorapp.versions}
        return objects.namespace_labels(readiness_gates=cluster in exported)

    def composed_names(self, topology: Topology) -> Iterator[ComposedName]:
        return names.composed_names(self.config, topology)

    def traffic_cidrs(self) -> Sequence[str]:
        # Calls between the apps go through Lattice, whose data plane reaches pods (and front reaches
        # the Lattice service) at the addresses of its prefix list; nothing else is mesh traffic.
        return list(objects.LATTICE_DATA_PLANE_CIDRS)

    def cross_cluster_rules(self, topology: Topology) -> tuple[AccessRule, ...]:
        # Calls cross clusters through Lattice, never node to node: the only door onto the colorapp
        # nodes is the one from Lattice's managed prefix list (LatticeRouting).
        return ()

    @property
    def iam_auth(self) -> bool:
        return self.config.mesh.lattice.auth is LatticeAuth.IAM

    def app_environment(self, app: AppSpec, topology: Topology) -> Mapping[str, str]:
        """What front's upstream client needs: Lattice has no retries or per-route timeouts, so front
        applies ``mesh.route`` itself, and with IAM auth signs every call with SigV4. colorapp keeps
        Lattice's pooled connections open past Lattice's own idle timeout."""
        if app.kind is not AppKind.FRONT:
            return {"HEADER_READ_TIMEOUT_MS": str(objects.target_keep_alive_ms())}
        route = self.config.mesh.route
        return {
            "UPSTREAM_AUTH": "sigv4" if self.iam_auth else "none",
            "UPSTREAM_SIGV4_SERVICE": iam.INVOKE.split(":", 1)[0],
            "AWS_REGION": self.config.region,
            "UPSTREAM_TIMEOUT_MS": str(route.timeout_ms),
            "UPSTREAM_PER_TRY_TIMEOUT_MS": str(route.per_retry_timeout_ms),
            "UPSTREAM_MAX_RETRIES": str(route.max_retries),
            "UPSTREAM_RETRY_BUDGET_PERCENT": str(route.retry_budget_percent),
        }

    def app_calls_aws_apis(self, app: AppSpec) -> bool:
        """No sidecar: only front, when it signs its calls, calls an AWS API (STS, for its IRSA role's
        credentials). colorapp calls nothing but the collector, inside the cluster."""
        return app.kind is AppKind.FRONT and self.iam_auth

    def pod_security_exceptions(self, topology: Topology) -> Mapping[str, PodSecurityException]:
        return {}

    def controller_release(self) -> str:
        return f"{objects.CONTROLLER_NAMESPACE}/{objects.CONTROLLER_RELEASE}"

    def verify_targets(self, topology: Topology) -> VerifyTargets:
        front = topology.front
        return VerifyTargets(
            service_network=self.config.service_network_name,
            lattice_service=objects.lattice_service_name(topology.service, self.config.stack),
            # front's IRSA role, as workloads/deploy/apps.py names it (role_prefix + app name).
            invoker_role=f"{cluster_prefix(self.config.stack, front.cluster)}-{front.name}"
            if self.iam_auth
            else None,
        )

    def diagram(self, topology: Topology) -> str:
        config = self.config
        front = topology.front
        host = topology.service_host
        lines = mermaid_header(config)
        for cluster in config.clusters:
            lines.append(f'    subgraph {mermaid_id(cluster.name)}["EKS {config.eks_name(cluster.name)}"]')
            if cluster.name == front.cluster:
                lines.append(f'      {mermaid_id(front.name)}["{front.name}"]')
                lines.append(f'      route{{{{"HTTPRoute {topology.service}<br/>host {host}"}}}}')
            for app in topology.colors:
                if app.cluster == cluster.name:
                    lines.append(
                        f'      {mermaid_id(app.name)}["{app.name}<br/>ServiceExport, COLOR={app.version}"]'
                    )
            lines.append("    end")
        lines.append(f'    lattice[["VPC Lattice service network {config.service_network_name}"]]')
        lines.append(f'    dns[("DNS {host} CNAME")]')
        lines.append("  end")
        lines.append(f"  lb --> {mermaid_id(front.name)}")
        lines.append(f'  {mermaid_id(front.name)} -->|"{host}:{topology.port}"| dns')
        lines.append("  dns --> lattice")
        lines.append("  route -. configures .-> lattice")
        for app in topology.colors:
            lines.append(f'  lattice -->|"{app.weight}%"| {mermaid_id(app.name)}')
        return "\n".join(lines)

    # --- deploy time ---------------------------------------------------------------------------------

    def install(
        self, name: str, cluster: ClusterHandle, context: MeshContext, opts: pulumi.ResourceOptions
    ) -> LatticeController:
        config = self.config
        return LatticeController(
            name,
            LatticeControllerArgs(
                cluster_name=cluster.eks_name,
                provider=cluster.provider,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                arns=context.arns,
                vpc_id=context.vpc_id,
                vpc_cidr=config.network.cidr,
                role_name=physical(config.stack, cluster.key, "lattice-controller"),
                chart_version=config.mesh.lattice.controller_chart_version,
                gateway_api_version=config.mesh.lattice.gateway_api_version,
                replicas=config.mesh.lattice.controller_replicas,
                resync_seconds=config.mesh.lattice.resync_seconds,
                tags=context.tags,
            ),
            opts,
        )

    def pod_policy(
        self, app: AppSpec, context: MeshContext
    ) -> pulumi.Output[account_iam.PolicyDocument] | None:
        # No sidecar calls AWS on the pods' behalf; with IAM auth, front signs its calls itself and its
        # own role must allow the Invoke the auth policies grant it.
        if app.kind is not AppKind.FRONT or not self.iam_auth:
            return None
        return context.arns.apply(iam.invoke_policy)

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
        config = self.config
        self._routing = LatticeRouting(
            name,
            LatticeRoutingArgs(
                topology=topology,
                service_network=config.service_network_name,
                lattice_service=objects.lattice_service_name(topology.service, config.stack),
                region=config.region,
                vpc_id=context.vpc_id,
                hosted_zone_id=context.discovery.hosted_zone_id,
                providers={key: clusters[key].provider for key in topology.clusters},
                eks_names={key: clusters[key].eks_name for key in topology.clusters},
                node_security_groups={key: clusters[key].node_security_group_id for key in topology.clusters},
                prerequisites=prerequisites,
                iam_auth=self.iam_auth,
                health=config.mesh.lattice.health_check,
                access_logs=config.mesh.lattice.access_logs,
                log_group_name=names.access_log_group(config.stack),
                tags=context.tags,
            ),
            opts,
        )
        # Pods wait for the controller (its webhook adds the Lattice readiness gate at pod creation);
        # colorapp's pods also for their Service, export, health check policy and the route, so the
        # gate they get is one the controller can resolve.
        return {
            app.name: [*prerequisites.get(app.cluster, ()), *self._routing.colors.get(app.name, ())]
            for app in topology.apps
        }

    def authorize(
        self,
        name: str,
        topology: Topology,
        clusters: Mapping[str, ClusterHandle],
        callers: Mapping[str, pulumi.Output[str]],
        *,
        context: MeshContext,
        opts: pulumi.ResourceOptions,
    ) -> None:
        if not self.iam_auth:
            return
        routing = self._routing
        front = topology.front
        LatticeAuthPolicies(
            name,
            LatticeAuthPoliciesArgs(
                topology=topology,
                service_network=routing.network.id,
                callers=[callers[app] for app in caller_names(topology).values()],
                source_vpc=context.vpc_id,
                provider=clusters[front.cluster].provider,
                after=[routing.route],
            ),
            opts,
        )
