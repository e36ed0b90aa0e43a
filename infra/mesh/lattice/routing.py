"""LatticeRouting: the VPC Lattice service network and the objects that route front to colorapp.

Pulumi owns the service network and its one VPC association (a VPC can join only one service
network, and both clusters share the VPC); the controllers own the Lattice services and target groups
they derive from the Kubernetes objects here. The name front calls stays
``colorapp.<discovery namespace>``: the HTTPRoute makes it the Lattice service's custom domain, and a
CNAME in the namespace's private hosted zone points it at the Lattice-assigned DNS name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra import kube
from infra.config import LatticeAccessLogsConfig, LatticeHealthCheckConfig
from infra.log_group import EncryptedLogGroup, EncryptedLogGroupArgs
from infra.mesh.lattice import objects
from infra.naming import TYPE_PREFIX, child
from infra.topology import Topology

DNS_TTL_SECONDS = 300
CREATE_TIMEOUT = "10m"


@dataclass(frozen=True)
class LatticeRoutingArgs:
    topology: Topology
    service_network: str
    lattice_service: str
    """The name of the Lattice service made of colorapp's route (unique per account and region)."""
    region: str
    vpc_id: pulumi.Input[str]
    hosted_zone_id: pulumi.Input[str]
    """The private hosted zone of the discovery namespace, where the name front calls lives."""
    providers: Mapping[str, k8s.Provider]
    eks_names: Mapping[str, str]
    node_security_groups: Mapping[str, pulumi.Input[str]]
    prerequisites: Mapping[str, Sequence[pulumi.Resource]]
    """Per cluster: the controller and the app namespace."""
    iam_auth: bool = True
    """The service network's authType: AWS_IAM (every call signed and allowed by a policy) or NONE."""
    health: LatticeHealthCheckConfig = field(default_factory=LatticeHealthCheckConfig)
    access_logs: LatticeAccessLogsConfig = field(default_factory=LatticeAccessLogsConfig)
    log_group_name: str = ""
    """The access log's CloudWatch log group (required when access logs are on)."""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class LatticeRouting(pulumi.ComponentResource):
    route: pulumi.CustomResource
    record: aws.route53.Record
    network: aws.vpclattice.ServiceNetwork
    colors: dict[str, list[pulumi.Resource]]
    """Per colorapp version (app name): its Service, ServiceExport and TargetGroupPolicy, and the route
    that weighs it. Its pods wait for all of them: the webhook gives a pod the Lattice readiness gate
    only if its Service is exported when the pod is created, and the controller can set that gate only
    once a route makes the export a target group."""

    def __init__(
        self, name: str, args: LatticeRoutingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:LatticeRouting", name, None, opts)
        topology = args.topology
        here = pulumi.ResourceOptions(parent=self)
        network = aws.vpclattice.ServiceNetwork(
            child(name, "service-network"),
            name=args.service_network,
            # AWS_IAM: Lattice denies every request that no auth policy allows (LatticeAuthPolicies).
            auth_type="AWS_IAM" if args.iam_auth else "NONE",
            tags=dict(args.tags),
            opts=here,
        )
        self.network = network
        if args.access_logs.enabled:
            logs = EncryptedLogGroup(
                child(name, "access-logs"),
                EncryptedLogGroupArgs(
                    group_name=args.log_group_name,
                    key_alias=args.log_group_name.strip("/").replace("/", "-"),
                    description=f"VPC Lattice access logs of service network {args.service_network}",
                    retention_days=args.access_logs.retention_days,
                    tags=args.tags,
                ),
                here,
            )
            # Every request through the network, to the encrypted group
            # (https://docs.aws.amazon.com/vpc-lattice/latest/ug/monitoring-access-logs.html).
            aws.vpclattice.AccessLogSubscription(
                child(name, "access-log-subscription"),
                resource_identifier=network.id,
                destination_arn=logs.group.arn,
                tags=dict(args.tags),
                opts=here,
            )
        # A new service network name replaces the network (its name is force-new) and so this
        # association (service_network_identifier and vpc_identifier are force-new: terraform-provider-aws
        # internal/service/vpclattice/service_network_vpc_association.go). Pulumi would create the new
        # association first, which Lattice refuses: "You can connect a VPC to only one service network
        # through an association" (https://docs.aws.amazon.com/vpc-lattice/latest/ug/service-networks.html).
        # So the old one goes first; the VPC is outside the mesh for that moment, as it is anyway while
        # the controllers move the services to the new network.
        association = aws.vpclattice.ServiceNetworkVpcAssociation(
            child(name, "vpc"),
            service_network_identifier=network.id,
            vpc_identifier=args.vpc_id,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # Lattice connects to the pods (and health-checks them) from its managed prefix list.
        prefix_list = aws.ec2.get_managed_prefix_list_output(
            name=f"com.amazonaws.{args.region}.vpc-lattice", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        for cluster in dict.fromkeys(app.cluster for app in topology.colors):
            aws.vpc.SecurityGroupIngressRule(
                child(name, f"{cluster}-from-lattice-{topology.port}"),
                security_group_id=args.node_security_groups[cluster],
                prefix_list_id=prefix_list.id,
                ip_protocol="tcp",
                from_port=topology.port,
                to_port=topology.port,
                description=f"VPC Lattice to {topology.service} pods of {cluster}",
                tags={**args.tags, "Name": child(name, f"{cluster}-from-lattice")},
                opts=here,
            )

        put = kube.ClusterApplier(self, args.providers, args.prerequisites, CREATE_TIMEOUT)

        exports: list[pulumi.Resource] = []
        self.colors = {}
        for app in topology.colors:
            service = put(app.cluster, objects.version_service(app, topology), [])
            export = put(app.cluster, objects.service_export(app, topology), [service])
            policy = put(app.cluster, objects.target_group_policy(app, topology, args.health), [export])
            exports.append(export)
            self.colors[app.name] = [service, export, policy]

        route_cluster = topology.front.cluster
        gateway = put(route_cluster, objects.gateway(args.service_network, topology), [network, association])
        imports = [
            put(route_cluster, objects.service_import(app, topology, args.eks_names[app.cluster]), exports)
            for app in topology.colors
        ]
        self.route = put(
            route_cluster,
            objects.http_route(topology, args.service_network, args.lattice_service),
            [gateway, *imports],
        )
        for objects_of_version in self.colors.values():
            objects_of_version.append(self.route)
        self.record = aws.route53.Record(
            child(name, "dns"),
            zone_id=args.hosted_zone_id,
            name=topology.service_host,
            type="CNAME",
            ttl=DNS_TTL_SECONDS,
            records=[kube.output_of(self.route, "metadata").apply(objects.assigned_domain)],
            opts=here,
        )
        self.register_outputs({"serviceNetwork": network.id, "host": topology.service_host})
