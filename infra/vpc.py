"""SharedVpc: one VPC for every cluster, public and private subnets per AZ, NAT, and the LB subnet tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.account import arns_for
from infra.config import NatGatewayMode
from infra.log_group import EncryptedLogGroup, EncryptedLogGroupArgs
from infra.naming import TYPE_PREFIX, child
from infra.network import Tier, plan_subnets, subnet_tags


@dataclass(frozen=True)
class FlowLogsArgs:
    log_group_name: str
    role_name: str
    """Physical name of the IAM role VPC Flow Logs assumes to deliver."""
    retention_days: int = 30


@dataclass(frozen=True)
class SharedVpcArgs:
    cidr: str
    """VPC CIDR block, e.g. ``172.16.0.0/16``."""
    azs: Sequence[str]
    """Availability zone IDs (``use1-az1``) to use, in order; one private and one public subnet each."""
    private_subnet_prefix: int
    public_subnet_prefix: int
    cluster_names: Sequence[str]
    """Physical EKS cluster names: every subnet is tagged ``kubernetes.io/cluster/<name>: shared``."""
    nat_gateways: NatGatewayMode = NatGatewayMode.SINGLE
    flow_logs: FlowLogsArgs | None = None
    """Where VPC flow logs go; None turns them off."""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class SharedVpc(pulumi.ComponentResource):
    """The network both clusters share, so pod IPs of one cluster are routable from the other."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    internet_path: list[pulumi.Resource]
    """The internet gateway, the public route table and its subnet associations: a public load
    balancer depends on them, so on destroy it (and its ENIs) is gone before they are."""

    def __init__(self, name: str, args: SharedVpcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:SharedVpc", name, None, opts)
        tags = dict(args.tags)
        here = pulumi.ResourceOptions(parent=self)

        # DNS support and hostnames are required for EKS private endpoints and for the Cloud Map
        # private DNS namespace to resolve inside the VPC.
        vpc = aws.ec2.Vpc(
            child(name, "vpc"),
            cidr_block=args.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={**tags, "Name": name},
            opts=here,
        )
        # The default security group is never used; with no rules it can't be misused either (CIS EC2.2).
        aws.ec2.DefaultSecurityGroup(
            child(name, "default-sg"),
            vpc_id=vpc.id,
            tags={**tags, "Name": f"{name}-default-unused"},
            opts=here,
        )
        igw = aws.ec2.InternetGateway(
            child(name, "igw"), vpc_id=vpc.id, tags={**tags, "Name": name}, opts=here
        )

        plan = plan_subnets(
            args.cidr,
            args.azs,
            private_prefix=args.private_subnet_prefix,
            public_prefix=args.public_subnet_prefix,
        )
        public_rt = aws.ec2.RouteTable(
            child(name, "public"),
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**tags, "Name": f"{name}-public"},
            opts=here,
        )
        subnets: dict[tuple[Tier, str], aws.ec2.Subnet] = {}
        public_routes: list[pulumi.Resource] = [igw, public_rt]
        for item in plan:
            subnet = aws.ec2.Subnet(
                child(name, item.key),
                vpc_id=vpc.id,
                cidr_block=item.cidr,
                availability_zone_id=item.az,
                # Nothing in a public subnet needs a public IP at launch: NAT gateways use Elastic IPs
                # and load balancers get their own.
                map_public_ip_on_launch=False,
                tags={**subnet_tags(item.tier, args.cluster_names, tags), "Name": f"{name}-{item.key}"},
                opts=here,
            )
            subnets[(item.tier, item.az)] = subnet
            if item.tier is Tier.PUBLIC:
                public_routes.append(
                    aws.ec2.RouteTableAssociation(
                        child(name, item.key), subnet_id=subnet.id, route_table_id=public_rt.id, opts=here
                    )
                )

        nat_azs = list(args.azs) if args.nat_gateways is NatGatewayMode.PER_AZ else [args.azs[0]]
        nats: dict[str, aws.ec2.NatGateway] = {}
        for az in nat_azs:
            eip = aws.ec2.Eip(
                child(name, f"nat-{az}"), domain="vpc", tags={**tags, "Name": f"{name}-nat-{az}"}, opts=here
            )
            nats[az] = aws.ec2.NatGateway(
                child(name, f"nat-{az}"),
                allocation_id=eip.id,
                subnet_id=subnets[(Tier.PUBLIC, az)].id,
                tags={**tags, "Name": f"{name}-nat-{az}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
        for az in args.azs:
            nat = nats.get(az, nats[nat_azs[0]])
            rt = aws.ec2.RouteTable(
                child(name, f"private-{az}"),
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={**tags, "Name": f"{name}-private-{az}"},
                opts=here,
            )
            aws.ec2.RouteTableAssociation(
                child(name, f"private-{az}"),
                subnet_id=subnets[(Tier.PRIVATE, az)].id,
                route_table_id=rt.id,
                opts=here,
            )

        if args.flow_logs is not None:
            self._flow_logs(name, vpc, args.flow_logs, tags)

        self.vpc_id = vpc.id
        self.internet_path = public_routes
        self.private_subnet_ids = pulumi.Output.all(*(subnets[(Tier.PRIVATE, az)].id for az in args.azs))
        self.public_subnet_ids = pulumi.Output.all(*(subnets[(Tier.PUBLIC, az)].id for az in args.azs))
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, args: FlowLogsArgs, tags: dict[str, str]) -> None:
        here = pulumi.ResourceOptions(parent=self)
        # Flow logs name every address that talks in the VPC: encrypted with a key of their own.
        group = EncryptedLogGroup(
            child(name, "flow-logs"),
            EncryptedLogGroupArgs(
                group_name=args.log_group_name,
                # The physical prefix the stack already uses for its flow-log resources.
                key_alias=args.role_name,
                description=f"Encryption of the VPC flow logs in {args.log_group_name}",
                retention_days=args.retention_days,
                tags=tags,
            ),
            opts=here,
        ).group
        role = aws.iam.Role(
            child(name, "flow-logs"),
            name=args.role_name,
            assume_role_policy=pulumi.Output.json_dumps(arns_for(self).apply(iam.flow_logs_trust_policy)),
            tags=tags,
            opts=here,
        )
        policy = aws.iam.RolePolicy(
            child(name, "flow-logs"),
            role=role.name,
            name="deliver-flow-logs",
            policy=pulumi.Output.json_dumps(group.arn.apply(iam.flow_logs_policy)),
            opts=here,
        )
        aws.ec2.FlowLog(
            child(name, "flow-logs"),
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
