"""EKS clusters and their nodes.

Control-plane settings are read from pulumi-eks ``Cluster`` inputs (what the render records and what
CrossGuard sees of the component) and from the ``aws:eks/cluster:Cluster`` the component creates (what
CrossGuard sees inside it at deploy time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .graph import Graph
from .model import Level, Resource, Rule, Settings
from .props import as_int, as_map, block, get, is_false, is_true, maps, strings, world_cidrs
from .types import (
    AWS_EKS_CLUSTER,
    AWS_EKS_NODE_GROUP,
    EKS_CLUSTER,
    EKS_MANAGED_NODE_GROUP,
    INGRESS_RULE,
    INSTANCE,
    INTERNET_GATEWAY,
    LAUNCH_TEMPLATE,
    NODE_GROUPS,
    ROUTE,
    ROUTE_TABLE,
    ROUTE_TABLE_ASSOCIATION,
    SECURITY_GROUP_RULE,
    SECURITY_GROUPS,
    SUBNET,
)

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def _vpc_config(resource: Resource) -> Mapping[str, Any]:
    """Endpoint settings: top-level inputs on the component, ``vpcConfig`` on the AWS resource."""
    if resource.type == AWS_EKS_CLUSTER:
        return block(resource.props.get("vpcConfig")) or {}
    return resource.props


# --- 2.1.1 control-plane logs ---------------------------------------------------------------------


def control_plane_logs(resource: Resource, _settings: Settings) -> Iterator[str]:
    enabled = set(strings(resource.props.get("enabledClusterLogTypes")))
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


CONTROL_PLANE_LOGS = Rule(
    id="eks-control-plane-logs",
    cis="2.1.1",
    level=Level.MANDATORY,
    title="Every cluster sends all five control-plane log types (api, audit, authenticator, "
    "controllerManager, scheduler) to CloudWatch Logs.",
    remediation="set enabledClusterLogTypes to all five types (infra/cluster.py CONTROL_PLANE_LOG_TYPES)",
    types=frozenset({EKS_CLUSTER, AWS_EKS_CLUSTER}),
    resource_check=control_plane_logs,
)


# --- 5.3.1 envelope encryption of Secrets -----------------------------------------------------------


def _customer_managed_key(arn: object) -> bool:
    # AWS managed keys are addressed as alias/aws/<service>; EKS needs a key the account controls.
    return isinstance(arn, str) and bool(arn) and "alias/aws/" not in arn


def secrets_encryption(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type == EKS_CLUSTER:
        key = resource.props.get("encryptionConfigKeyArn")
        if not _customer_managed_key(key):
            yield "Kubernetes Secrets are not envelope-encrypted with a customer-managed KMS key"
        return
    config = block(resource.props.get("encryptionConfig"))
    key = get(config, "provider", "keyArn")
    if config is None or not _customer_managed_key(key):
        yield "Kubernetes Secrets are not envelope-encrypted with a customer-managed KMS key"
    elif "secrets" not in strings(config.get("resources")):
        yield "the encryption config does not cover the 'secrets' resource"


SECRETS_ENCRYPTION = Rule(
    id="eks-secrets-encryption",
    cis="5.3.1",
    level=Level.MANDATORY,
    title="Kubernetes Secrets are envelope-encrypted with a customer-managed KMS key.",
    remediation="pass the cluster's own aws.kms.Key ARN as encryptionConfigKeyArn",
    types=frozenset({EKS_CLUSTER, AWS_EKS_CLUSTER}),
    resource_check=secrets_encryption,
)


# --- 5.4.2 / 5.4.1 API endpoint -------------------------------------------------------------------


def endpoint_private_access(resource: Resource, _settings: Settings) -> Iterator[str]:
    # EKS leaves the private endpoint off unless asked, so a missing value is a violation.
    if not is_true(_vpc_config(resource).get("endpointPrivateAccess")):
        yield "the private API endpoint is off: nodes and in-VPC callers reach the API over the internet"


ENDPOINT_PRIVATE_ACCESS = Rule(
    id="eks-endpoint-private-access",
    cis="5.4.2",
    level=Level.MANDATORY,
    title="The cluster API has its private endpoint on, so traffic from the VPC stays in the VPC.",
    remediation="set endpointPrivateAccess: true (crossmesh:clusters[].endpoint.privateAccess)",
    types=frozenset({EKS_CLUSTER, AWS_EKS_CLUSTER}),
    resource_check=endpoint_private_access,
)


def endpoint_public_access(resource: Resource, _settings: Settings) -> Iterator[str]:
    vpc = _vpc_config(resource)
    # EKS turns the public endpoint on, open to 0.0.0.0/0, unless told otherwise.
    if is_false(vpc.get("endpointPublicAccess")):
        return
    cidrs = strings(vpc.get("publicAccessCidrs")) or ["0.0.0.0/0"]
    open_to = world_cidrs(cidrs)
    if open_to:
        yield f"the public API endpoint accepts {', '.join(open_to)}"


ENDPOINT_PUBLIC_ACCESS = Rule(
    id="eks-endpoint-public-access-restricted",
    cis="5.4.1",
    level=Level.ADVISORY,
    title="The public API endpoint is off, or limited to configured CIDR blocks (never 0.0.0.0/0).",
    remediation="set crossmesh:clusters[].endpoint.publicAccess: false, or publicAccessCidrs to your "
    "office/VPN/CI ranges",
    types=frozenset({EKS_CLUSTER, AWS_EKS_CLUSTER}),
    resource_check=endpoint_public_access,
)


# --- 4.1.7 access entries --------------------------------------------------------------------------


def access_entries(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type == EKS_CLUSTER:
        mode = resource.props.get("authenticationMode")
    else:
        mode = get(block(resource.props.get("accessConfig")), "authenticationMode")
    if mode != "API":
        shown = mode if isinstance(mode, str) else "unset (CONFIG_MAP)"
        yield f"authentication mode is {shown}: cluster access is not managed by EKS access entries alone"


ACCESS_ENTRIES = Rule(
    id="eks-access-entries",
    cis="4.1.7",
    level=Level.MANDATORY,
    title="Cluster access is granted through EKS access entries (authentication mode API), "
    "not the aws-auth ConfigMap.",
    remediation="set authenticationMode: API and grant admins with accessEntries",
    types=frozenset({EKS_CLUSTER, AWS_EKS_CLUSTER}),
    resource_check=access_entries,
)


# --- 5.4.3 nodes in private subnets ---------------------------------------------------------------


def _public_subnet(graph: Graph, subnet: Resource) -> str | None:
    """Why ``subnet`` is public, or None when it is private."""
    if is_true(subnet.props.get("mapPublicIpOnLaunch")):
        return "assigns public IPs at launch"
    if get(as_map(subnet.props.get("tags")), "kubernetes.io/role/elb") == "1":
        return "is tagged for internet-facing load balancers"
    for association in graph.of_type(ROUTE_TABLE_ASSOCIATION):
        if subnet not in graph.referenced(association, "subnetId", SUBNET):
            continue
        for table in graph.referenced(association, "routeTableId", ROUTE_TABLE):
            if _routes_to_internet_gateway(graph, table):
                return f"routes through an internet gateway (route table {table.name})"
    return None


def _routes_to_internet_gateway(graph: Graph, table: Resource) -> bool:
    if graph.sources(table, "routes", INTERNET_GATEWAY):
        return True
    if any(str(r.get("gatewayId", "")).startswith("igw-") for r in maps(table.props.get("routes"))):
        return True
    for route in graph.of_type(ROUTE):
        if table in graph.referenced(route, "routeTableId", ROUTE_TABLE) and (
            graph.sources(route, "gatewayId", INTERNET_GATEWAY)
            or str(route.props.get("gatewayId", "")).startswith("igw-")
        ):
            return True
    return False


def nodes_in_private_subnets(
    resources: Sequence[Resource], _settings: Settings
) -> Iterator[tuple[Resource, str]]:
    graph = Graph(resources)
    for cluster in graph.of_type(EKS_CLUSTER):
        if is_true(cluster.props.get("nodeAssociatePublicIpAddress")):
            yield cluster, "nodes get public IP addresses (nodeAssociatePublicIpAddress)"
    for template in graph.of_type(LAUNCH_TEMPLATE):
        for interface in maps(template.props.get("networkInterfaces")):
            if is_true(interface.get("associatePublicIpAddress")):
                yield template, "network interfaces get public IP addresses"
    for group in graph.of_type(*NODE_GROUPS):
        # Subnets that are not resources of this stack cannot be judged here; the component-level
        # node group (whose inputs the render records) is checked even where its AWS child is not.
        for subnet in graph.referenced(group, "subnetIds", SUBNET):
            why = _public_subnet(graph, subnet)
            if why:
                yield group, f"nodes are placed in subnet {subnet.name}, which {why}"


NODES_IN_PRIVATE_SUBNETS = Rule(
    id="eks-nodes-private-subnets",
    cis="5.4.3",
    level=Level.MANDATORY,
    title="Worker nodes run in private subnets, without public IP addresses.",
    remediation="give node groups the VPC's private subnets only (SharedVpc.private_subnet_ids)",
    types=frozenset({EKS_CLUSTER, *NODE_GROUPS, LAUNCH_TEMPLATE}),
    stack_check=nodes_in_private_subnets,
)


# --- IMDSv2 with a hop limit of 1 -------------------------------------------------------------------


def imdsv2(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type == EKS_CLUSTER:
        # pulumi-eks's default node group is self-managed, on a launch template pulumi-eks writes: it
        # sets no metadata options unless enableIMDSv2 is given, and then a hop limit of 2
        # (nodejs/eks/nodes/nodegroup.ts). Only the render sees the component's inputs.
        if not is_true(resource.props.get("skipDefaultNodeGroup")):
            yield (
                "the cluster creates pulumi-eks's default node group (skipDefaultNodeGroup is not true), "
                "whose launch template lets pods reach the node's instance metadata"
            )
        return
    if resource.type in NODE_GROUPS:
        template = block(resource.props.get("launchTemplate"))
        if template is None or not (template.get("id") or template.get("name")):
            # Without a template of our own EKS applies its default, which allows a hop limit of 2.
            yield "no launch template: EKS's default lets pods reach the node's instance metadata"
        return
    options = block(resource.props.get("metadataOptions")) or {}
    if options.get("httpEndpoint") == "disabled":
        return
    if options.get("httpTokens") != "required":
        yield "IMDSv2 is not required (metadataOptions.httpTokens must be 'required')"
    hops = as_int(options.get("httpPutResponseHopLimit"))
    if hops != 1:
        shown = hops if hops is not None else "unset"
        yield f"instance metadata hop limit is {shown}, not 1: pods can reach it"


IMDSV2 = Rule(
    id="eks-node-imdsv2",
    cis=None,
    level=Level.MANDATORY,
    title="Nodes require IMDSv2 with a hop limit of 1, so pods cannot take the node role's credentials "
    "(EKS best practices, identity and access management).",
    remediation="give every node group a launch template with metadataOptions httpTokens=required and "
    "httpPutResponseHopLimit=1, and set skipDefaultNodeGroup: true on the cluster (infra/cluster.py)",
    types=frozenset({LAUNCH_TEMPLATE, INSTANCE, EKS_CLUSTER, EKS_MANAGED_NODE_GROUP, AWS_EKS_NODE_GROUP}),
    resource_check=imdsv2,
)


# --- no SSH ----------------------------------------------------------------------------------------

SSH_PORT = 22


def _opens_port(rule: Mapping[str, Any], port: int) -> bool:
    protocol = str(rule.get("ipProtocol", rule.get("protocol", "")))
    if protocol in ("-1", "all"):
        return True
    low, high = as_int(rule.get("fromPort")), as_int(rule.get("toPort"))
    return protocol in ("tcp", "6") and low is not None and high is not None and low <= port <= high


def ingress_rules(resource: Resource) -> list[Mapping[str, Any]]:
    """The ingress rules a security-group resource declares (standalone rules or inline blocks)."""
    if resource.type == INGRESS_RULE:
        return [resource.props]
    if resource.type == SECURITY_GROUP_RULE:
        return [resource.props] if resource.props.get("type") == "ingress" else []
    if resource.type in SECURITY_GROUPS:
        return maps(resource.props.get("ingress"))
    return []


def no_ssh(resource: Resource, _settings: Settings) -> Iterator[str]:
    props = resource.props
    if resource.type in (LAUNCH_TEMPLATE, INSTANCE) and props.get("keyName"):
        yield f"an SSH key pair ({props.get('keyName')}) is installed on the nodes"
    elif resource.type in NODE_GROUPS and block(props.get("remoteAccess")):
        yield "remote (SSH) access is configured on the node group"
    elif resource.type == EKS_CLUSTER and (
        props.get("nodePublicKey") or get(props, "nodeGroupOptions", "nodePublicKey")
    ):
        yield "an SSH public key is installed on the default node group"
    else:
        for rule in ingress_rules(resource):
            if _opens_port(rule, SSH_PORT):
                yield "a security group rule admits port 22 (SSH)"


NO_SSH = Rule(
    id="eks-no-ssh",
    cis=None,
    level=Level.MANDATORY,
    title="No SSH into nodes: no key pairs, no node-group remote access, no security group rule for port 22.",
    remediation="remove keyName/remoteAccess and port-22 rules; use SSM Session Manager or kubectl debug",
    types=frozenset(
        {
            LAUNCH_TEMPLATE,
            INSTANCE,
            EKS_CLUSTER,
            *NODE_GROUPS,
            INGRESS_RULE,
            SECURITY_GROUP_RULE,
            *SECURITY_GROUPS,
        }
    ),
    resource_check=no_ssh,
)

RULES = (
    CONTROL_PLANE_LOGS,
    SECRETS_ENCRYPTION,
    ENDPOINT_PRIVATE_ACCESS,
    ENDPOINT_PUBLIC_ACCESS,
    NODES_IN_PRIVATE_SUBNETS,
    ACCESS_ENTRIES,
    IMDSV2,
    NO_SSH,
)
