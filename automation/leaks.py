"""What a `destroy` left behind: anything still billable or still holding a name of the stack.

``destroy`` ends with :func:`check_after_destroy`; it lists every leftover and fails with exit code 10
(``ExitCode.LEAKED``) when there is one. Looked for, each by the call that sees it:

- resources still tagged for the stack (Resource Groups Tagging API ``GetResources`` on the
  ``project``/``environment`` tags every resource gets through the provider's default tags), except KMS
  keys already pending deletion (Pulumi deletes a key by scheduling it);
- load balancers made by Kubernetes for the stack's clusters (classic ELB by the in-tree service
  controller, NLB/ALB by the AWS Load Balancer Controller), by their ``kubernetes.io/cluster/<name>``
  or ``elbv2.k8s.aws/cluster`` tags;
- VPC Lattice services the Gateway API controller made (tag ``application-networking.k8s.aws/ManagedBy``
  = ``<account>/<cluster>/<vpc>``) and target groups in the stack's VPC;
- Cloud Map services left in the stack's namespace (the App Mesh controller registers them);
- network interfaces left in the VPC (load balancers' and the VPC CNI's; they block deleting subnets);
- and, by each service's own list call, what the tagging API does not cover: EKS clusters, ECR
  repositories, IAM roles and OIDC providers, Cloud Map namespaces;
- the log groups whose names the stack fixes (each cluster's ``/aws/eks/<name>/cluster``, the flow
  logs'), by name: EKS ships the control-plane logs it still holds after Pulumi deleted the group and
  re-creates it, untagged, so the tagging API misses it and the next deploy is refused (exit 13, the
  name held by something crossmesh did not make).

Clients are injected (:class:`LeakClients`), so tests run this against moto and botocore's Stubber.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.preflight import owner_of
from infra.config import StackConfig
from infra.naming import control_plane_log_group, ecr_repository, flow_logs_group

PROJECT_TAG = ("project", "crossmesh")
LATTICE_MANAGED_BY = "application-networking.k8s.aws/ManagedBy"


@dataclass(frozen=True)
class Leak:
    service: str
    identifier: str
    why: str

    def line(self) -> str:
        return f"{self.service}: {self.identifier} ({self.why})"


@dataclass(frozen=True)
class LeakScope:
    """What belongs to one stack."""

    stack: str
    account: str = ""
    eks_names: Sequence[str] = ()
    ecr_repositories: Sequence[str] = ()
    cloud_map_namespace: str = ""
    log_groups: Sequence[str] = ()
    """Log groups the stack names itself (the same ones the deploy checks hold the names of)."""
    vpc_ids: Sequence[str] = ()
    """VPCs known to be the stack's; any VPC still tagged for the stack is added (the provider's
    default tags put ``project``/``environment`` on it)."""

    @classmethod
    def of(cls, config: StackConfig, *, account: str = "", vpc_ids: Sequence[str] = ()) -> LeakScope:
        return cls(
            stack=config.stack,
            account=account,
            eks_names=tuple(config.eks_name(c.name) for c in config.clusters),
            ecr_repositories=tuple(ecr_repository(config.stack, app) for app in ("front", "colorapp")),
            cloud_map_namespace=config.mesh.cloud_map_namespace,
            log_groups=(
                *(control_plane_log_group(config.eks_name(c.name)) for c in config.clusters),
                flow_logs_group(config.stack),
            ),
            vpc_ids=tuple(vpc_ids),
        )

    def owns_tags(self, tags: Mapping[str, str]) -> bool:
        return owner_of(tags) == self.stack


@dataclass(frozen=True)
class LeakClients:
    """boto3 clients (``Any``: boto3 ships no types); a ``None`` client skips its checks."""

    tagging: Any = None
    kms: Any = None
    ec2: Any = None
    elb: Any = None
    elbv2: Any = None
    lattice: Any = None
    servicediscovery: Any = None
    eks: Any = None
    ecr: Any = None
    iam: Any = None
    logs: Any = None


@dataclass
class LeakReport:
    leaks: list[Leak] = field(default_factory=list[Leak])
    checked: list[str] = field(default_factory=list[str])
    """Which checks ran (a check whose call failed is listed under ``errors`` instead)."""
    errors: list[str] = field(default_factory=list[str])

    @property
    def clean(self) -> bool:
        return not self.leaks and not self.errors


def _tags(
    pairs: Iterable[Mapping[str, Any]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {str(p[key]): str(p.get(value, "")) for p in pairs or ()}


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key) or ()


def tagged_resources(clients: LeakClients, scope: LeakScope) -> list[Leak]:
    filters = [
        {"Key": PROJECT_TAG[0], "Values": [PROJECT_TAG[1]]},
        {"Key": "environment", "Values": [scope.stack]},
    ]
    leaks: list[Leak] = []
    for item in _pages(clients.tagging, "get_resources", "ResourceTagMappingList", TagFilters=filters):
        arn = str(item["ResourceARN"])
        if ":kms:" in arn and ":key/" in arn and clients.kms is not None:
            state = clients.kms.describe_key(KeyId=arn)["KeyMetadata"].get("KeyState")
            if state in ("PendingDeletion", "PendingReplicaDeletion"):
                continue  # deleted the way KMS deletes: after its waiting period
        leaks.append(Leak("tagged", arn, f"still tagged environment={scope.stack}"))
    return leaks


def stack_vpcs(clients: LeakClients, scope: LeakScope) -> list[str]:
    found = clients.ec2.describe_vpcs(
        Filters=[
            {"Name": f"tag:{PROJECT_TAG[0]}", "Values": [PROJECT_TAG[1]]},
            {"Name": "tag:environment", "Values": [scope.stack]},
        ]
    )["Vpcs"]
    return sorted({*scope.vpc_ids, *(str(v["VpcId"]) for v in found)})


def network_interfaces(clients: LeakClients, vpcs: Sequence[str]) -> list[Leak]:
    if not vpcs:
        return []
    leaks: list[Leak] = []
    for eni in _pages(
        clients.ec2,
        "describe_network_interfaces",
        "NetworkInterfaces",
        Filters=[{"Name": "vpc-id", "Values": list(vpcs)}],
    ):
        leaks.append(
            Leak(
                "ec2",
                str(eni["NetworkInterfaceId"]),
                f"network interface left in {eni.get('VpcId')}: "
                + str(eni.get("Description") or eni.get("InterfaceType")),
            )
        )
    return leaks


def _cluster_tag_matches(tags: Mapping[str, str], eks_names: Sequence[str]) -> str | None:
    for name in eks_names:
        if f"kubernetes.io/cluster/{name}" in tags or tags.get("elbv2.k8s.aws/cluster") == name:
            return name
    return None


def load_balancers(clients: LeakClients, scope: LeakScope) -> list[Leak]:
    leaks: list[Leak] = []
    if clients.elbv2 is not None:
        arns = [
            str(lb["LoadBalancerArn"])
            for lb in _pages(clients.elbv2, "describe_load_balancers", "LoadBalancers")
        ]
        for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
            for description in clients.elbv2.describe_tags(ResourceArns=arns[start : start + 20])[
                "TagDescriptions"
            ]:
                cluster = _cluster_tag_matches(_tags(description.get("Tags")), scope.eks_names)
                if cluster:
                    leaks.append(
                        Leak("elbv2", str(description["ResourceArn"]), f"load balancer of {cluster}")
                    )
    if clients.elb is not None:
        names = [
            str(lb["LoadBalancerName"])
            for lb in _pages(clients.elb, "describe_load_balancers", "LoadBalancerDescriptions")
        ]
        for start in range(0, len(names), 20):
            for description in clients.elb.describe_tags(LoadBalancerNames=names[start : start + 20])[
                "TagDescriptions"
            ]:
                cluster = _cluster_tag_matches(_tags(description.get("Tags")), scope.eks_names)
                if cluster:
                    leaks.append(
                        Leak(
                            "elb", str(description["LoadBalancerName"]), f"classic load balancer of {cluster}"
                        )
                    )
    return leaks


def lattice(clients: LeakClients, scope: LeakScope, vpcs: Sequence[str]) -> list[Leak]:
    leaks: list[Leak] = []
    for service in _pages(clients.lattice, "list_services", "items"):
        arn = str(service["arn"])
        managed_by = (
            clients.lattice.list_tags_for_resource(resourceArn=arn)
            .get("tags", {})
            .get(LATTICE_MANAGED_BY, "")
        )
        # <account>/<cluster>/<vpc>, as the AWS Gateway API controller stamps it.
        parts = str(managed_by).split("/")
        if len(parts) == 3 and parts[1] in scope.eks_names:
            leaks.append(Leak("vpc-lattice", arn, f"service made by the controller in {parts[1]}"))
    for group in _pages(clients.lattice, "list_target_groups", "items"):
        if group.get("vpcIdentifier") in vpcs:
            leaks.append(Leak("vpc-lattice", str(group["arn"]), f"target group in {group['vpcIdentifier']}"))
    return leaks


def cloud_map(clients: LeakClients, scope: LeakScope) -> list[Leak]:
    leaks: list[Leak] = []
    for namespace in _pages(clients.servicediscovery, "list_namespaces", "Namespaces"):
        if namespace.get("Name") != scope.cloud_map_namespace:
            continue
        tags = _tags(
            clients.servicediscovery.list_tags_for_resource(ResourceARN=namespace["Arn"]).get("Tags")
        )
        if not scope.owns_tags(tags):
            continue  # another stack's namespace of the same name (allowed in another VPC)
        leaks.append(Leak("servicediscovery", str(namespace["Id"]), f"namespace {namespace['Name']}"))
        for service in _pages(
            clients.servicediscovery,
            "list_services",
            "Services",
            Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace["Id"]], "Condition": "EQ"}],
        ):
            leaks.append(
                Leak(
                    "servicediscovery",
                    str(service["Id"]),
                    f"service {service['Name']} left in {namespace['Name']}",
                )
            )
    return leaks


def eks(clients: LeakClients, scope: LeakScope) -> list[Leak]:
    names = set(_pages(clients.eks, "list_clusters", "clusters"))
    return [Leak("eks", name, "cluster still exists") for name in scope.eks_names if name in names]


def ecr(clients: LeakClients, scope: LeakScope) -> list[Leak]:
    names = {str(r["repositoryName"]) for r in _pages(clients.ecr, "describe_repositories", "repositories")}
    return [Leak("ecr", name, "repository still exists") for name in scope.ecr_repositories if name in names]


def iam(clients: LeakClients, scope: LeakScope) -> list[Leak]:
    leaks: list[Leak] = []
    prefix = f"crossmesh-{scope.stack}-"
    for role in _pages(clients.iam, "list_roles", "Roles"):
        name = str(role["RoleName"])
        if not name.startswith(prefix):
            continue
        # The prefix alone could match stack "dev-2"'s roles for stack "dev": the tags decide.
        if scope.owns_tags(_tags(clients.iam.list_role_tags(RoleName=name).get("Tags"))):
            leaks.append(Leak("iam", name, "role still exists"))
    for provider in clients.iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", ()):
        arn = str(provider["Arn"])
        tags = _tags(clients.iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn).get("Tags"))
        if scope.owns_tags(tags):
            leaks.append(Leak("iam", arn, "OIDC provider still exists"))
    return leaks


def log_groups(clients: LeakClients, scope: LeakScope) -> list[Leak]:
    leaks: list[Leak] = []
    for name in scope.log_groups:
        found = clients.logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups") or ()
        group = next((g for g in found if g.get("logGroupName") == name), None)
        if group is None:
            continue
        # The ARN without ":*" (logGroupArn), as the tagging API and ListTagsForResource name it.
        arn = str(group.get("logGroupArn") or str(group["arn"]).removesuffix(":*"))
        tags = _tags_of_mapping(clients.logs.list_tags_for_resource(resourceArn=arn).get("tags"))
        if scope.owns_tags(tags):
            leaks.append(Leak("logs", arn, f"log group {name} still exists"))
        else:
            leaks.append(
                Leak(
                    "logs",
                    arn,
                    f"log group {name} left without the stack's tags (EKS re-creates its control-plane "
                    "group when it ships its last logs after the group was deleted); the next deploy "
                    "would be refused its name",
                )
            )
    return leaks


def _tags_of_mapping(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (tags or {}).items()}


def find_leaks(clients: LeakClients, scope: LeakScope) -> LeakReport:
    report = LeakReport()
    vpcs: list[str] = list(scope.vpc_ids)

    def run(name: str, client: Any, check: Callable[[], list[Leak]]) -> None:
        if client is None:
            return
        try:
            report.leaks.extend(check())
            report.checked.append(name)
        except (ClientError, BotoCoreError) as exc:
            report.errors.append(f"{name}: {exc}")

    def find_vpcs() -> list[Leak]:
        vpcs[:] = stack_vpcs(clients, scope)
        return []

    run("vpcs", clients.ec2, find_vpcs)
    run("tagging", clients.tagging, lambda: tagged_resources(clients, scope))
    run("load balancers", clients.elbv2 or clients.elb, lambda: load_balancers(clients, scope))
    run("vpc-lattice", clients.lattice, lambda: lattice(clients, scope, vpcs))
    run("cloud map", clients.servicediscovery, lambda: cloud_map(clients, scope))
    run("network interfaces", clients.ec2, lambda: network_interfaces(clients, vpcs))
    run("eks", clients.eks, lambda: eks(clients, scope))
    run("ecr", clients.ecr, lambda: ecr(clients, scope))
    run("iam", clients.iam, lambda: iam(clients, scope))
    run("log groups", clients.logs, lambda: log_groups(clients, scope))
    # One resource may be seen twice (tagged, and by its own list call): list it once.
    unique = {leak.identifier: leak for leak in reversed(report.leaks)}
    report.leaks = sorted(unique.values(), key=lambda leak: (leak.service, leak.identifier))
    return report


def make_clients(region: str) -> LeakClients:
    import boto3  # noqa: PLC0415 - only destroy needs these clients
    from botocore.config import Config  # noqa: PLC0415

    session = boto3.Session(region_name=region)
    config = Config(region_name=region, retries={"max_attempts": 5, "mode": "standard"}, read_timeout=30)

    def client(name: str) -> Any:
        return cast(Any, session.client(name, config=config))  # pyright: ignore[reportUnknownMemberType]

    return LeakClients(
        tagging=client("resourcegroupstaggingapi"),
        kms=client("kms"),
        ec2=client("ec2"),
        elb=client("elb"),
        elbv2=client("elbv2"),
        lattice=client("vpc-lattice"),
        servicediscovery=client("servicediscovery"),
        eks=client("eks"),
        ecr=client("ecr"),
        iam=client("iam"),
        logs=client("logs"),
    )


def check_after_destroy(
    config: StackConfig, *, vpc_ids: Sequence[str] = (), clients: LeakClients | None = None
) -> LeakReport:
    """Run every check; raise :class:`CrossmeshError` (exit 10) listing what is left, if anything."""
    report = find_leaks(clients or make_clients(config.region), LeakScope.of(config, vpc_ids=vpc_ids))
    if report.clean:
        return report
    lines = [leak.line() for leak in report.leaks] + [f"could not check {e}" for e in report.errors]
    raise CrossmeshError(
        Failure(
            ExitCode.LEAKED,
            "destroy_left_resources",
            f"destroy of {config.stack} finished but {len(report.leaks)} resource(s) are left"
            + (f" and {len(report.errors)} check(s) failed" if report.errors else "")
            + ":\n  "
            + "\n  ".join(lines),
            "Delete them (they may still cost money or block a new deploy's names), or run "
            f"`python -m automation destroy {config.stack}` again once their owners are gone; load balancers "
            "and ENIs left by Kubernetes usually mean the cluster went before its Services.",
        )
    )
