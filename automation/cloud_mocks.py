"""What the cloud would answer, for a program run without one.

Every value a cloud assigns (IDs, ARNs, endpoints, digests, the account number) is a *placeholder*:
IDs and names read ``<resource-name.attribute>``, ARNs carry the placeholder account
:data:`PLACEHOLDER_ACCOUNT`, and :attr:`CloudMocks.placeholders` lists what each stands for, so a
reader of the render never mistakes an invented value for a real one.
"""

from __future__ import annotations

import hashlib
import json
import string
import threading
from typing import Any, cast

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from infra.data import list_or_empty, mapping_or_empty

PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_PARTITION = "aws"


def placeholder(name: str, attribute: str) -> str:
    """The placeholder for a value the cloud assigns to ``attribute`` of resource ``name``."""
    return f"<{name}.{attribute}>"


def placeholder_digest(name: str) -> str:
    """A well-formed but invented image digest: ``sha256:`` and 64 hex digits derived from ``name``."""
    return "sha256:" + hashlib.sha256(f"crossmesh-placeholder:{name}".encode()).hexdigest()


class CloudMocks(Mocks):
    """Answers invokes and fills in the outputs the program reads, with placeholders."""

    def __init__(self, region: str = "us-east-1", az_count: int = 6) -> None:
        self.region = region
        self.azs = [f"{region}{letter}" for letter in string.ascii_lowercase[:az_count]]
        self._lock = threading.Lock()
        self.unoffered: set[tuple[str, str]] = set()
        """(instance type, zone ID) pairs a test wants EC2 to not offer."""
        self.placeholders: dict[str, str] = {
            PLACEHOLDER_ACCOUNT: "AWS account id (the deploying account's, from sts:GetCallerIdentity)",
            "<name.attribute>": "a value the cloud assigns at deploy time (IDs, ARNs, endpoints)",
        }

    # Invokes -------------------------------------------------------------------------------------

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        function = args.token
        if function == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "names": self.azs,
                "zoneIds": self.zone_ids(),
                "groupNames": [self.region] * len(self.azs),
                "id": self.region,
                "state": "available",
            }, []
        if function == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": PLACEHOLDER_ACCOUNT,
                "arn": f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:user/placeholder-deployer",
                "userId": "AIDAPLACEHOLDER",
                "id": PLACEHOLDER_ACCOUNT,
            }, []
        if function == "aws:index/getRegion:getRegion":
            return {
                "name": self.region,
                "region": self.region,
                "id": self.region,
                "endpoint": f"ec2.{self.region}.amazonaws.com",
                "description": self.region,
            }, []
        if function == "aws:index/getPartition:getPartition":
            return {
                "partition": PLACEHOLDER_PARTITION,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": PLACEHOLDER_PARTITION,
            }, []
        if function == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            name = str(mapping_or_empty(cast(object, args.args)).get("name", "prefix-list"))
            return {"id": placeholder(name, "id"), "name": name, "addressFamily": "IPv4"}, []
        if function == "aws:iam/getRole:getRole":
            # The role as IAM has it: the render cannot know a path, so it keeps the configured ARN's.
            role = str(mapping_or_empty(cast(object, args.args)).get("name", "role"))
            return {"name": role, "arn": self.arn("iam", f"role/{role}", regional=False), "id": role}, []
        if function == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
            # Every zone offers every asked-for type here; tests narrow this down.
            query = mapping_or_empty(cast(object, args.args))
            types = [
                str(v)
                for f in list_or_empty(query.get("filters"))
                if mapping_or_empty(f).get("name") == "instance-type"
                for v in list_or_empty(mapping_or_empty(f).get("values"))
            ]
            zone_ids = self.zone_ids()
            pairs = [(t, z) for z in zone_ids for t in types if self.offers(t, z)]
            return {
                "instanceTypes": [t for t, _ in pairs],
                "locations": [z for _, z in pairs],
                "locationTypes": [str(query.get("locationType", "region"))] * len(pairs),
                "id": self.region,
            }, []
        if function == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "authorizationToken": "<ecr.authorizationToken>",
                "userName": "AWS",
                "password": "<ecr.password>",
                "proxyEndpoint": f"https://{PLACEHOLDER_ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com",
                "expiresAt": "<ecr.expiresAt>",
                "id": self.region,
            }, []
        raise NotImplementedError(f"no mock answer for invoke {function}; add one to CloudMocks.call")

    def zone_ids(self) -> list[str]:
        return [f"use1-az{i + 1}" for i in range(len(self.azs))]

    def offers(self, instance_type: str, zone_id: str) -> bool:
        """Whether a zone offers an instance type (all do, unless ``unoffered`` says otherwise)."""
        return (instance_type, zone_id) not in self.unoffered

    # Resources -----------------------------------------------------------------------------------

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        name = args.name
        state: dict[str, Any] = dict(mapping_or_empty(cast(object, args.inputs)))
        resource_id = placeholder(name, "id")
        filler = _OUTPUTS.get(args.typ)
        if filler is not None:
            filler(self, name, state)
        if args.typ.startswith("docker-build:"):
            with self._lock:
                self.placeholders[state["digest"]] = f"image digest of {name}, known after the build"
        return resource_id, state

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{PLACEHOLDER_PARTITION}:{service}:{region}:{PLACEHOLDER_ACCOUNT}:{resource}"


def _eks_cluster(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    cluster_name = state.get("name") or placeholder(name, "name")
    oidc_id = placeholder(name, "oidcId")
    issuer = f"oidc.eks.{mocks.region}.amazonaws.com/id/{oidc_id}"
    endpoint = f"https://{placeholder(name, 'endpoint')}"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kubernetes", "cluster": {"server": endpoint, "certificate-authority-data": "<ca>"}}
        ],
        "contexts": [{"name": "aws", "context": {"cluster": "kubernetes", "user": "aws"}}],
        "current-context": "aws",
        "users": [
            {
                "name": "aws",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
                    }
                },
            }
        ],
    }
    state.update(
        {
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig),
            "clusterSecurityGroupId": placeholder(name, "clusterSecurityGroupId"),
            "nodeSecurityGroupId": placeholder(name, "clusterSecurityGroupId"),
            "oidcProviderArn": f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:oidc-provider/{issuer}",
            "oidcProviderUrl": f"https://{issuer}",
            "oidcIssuer": issuer,
        }
    )


def _iam_role(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    role_name = state.get("name") or placeholder(name, "name")
    state.setdefault("name", role_name)
    state["arn"] = mocks.arn("iam", f"role/{role_name}", regional=False)
    state["uniqueId"] = placeholder(name, "uniqueId")


def _iam_policy(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    policy_name = state.get("name") or placeholder(name, "name")
    state.setdefault("name", policy_name)
    state["arn"] = mocks.arn("iam", f"policy/{policy_name}", regional=False)


def _kms_key(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    key_id = placeholder(name, "keyId")
    state["keyId"] = key_id
    state["arn"] = mocks.arn("kms", f"key/{key_id}")


def _log_group(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    group = state.get("name") or placeholder(name, "name")
    state.setdefault("name", group)
    state["arn"] = mocks.arn("logs", f"log-group:{group}")


def _private_dns_namespace(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    state["arn"] = mocks.arn("servicediscovery", f"namespace/{placeholder(name, 'id')}")
    state["hostedZone"] = placeholder(name, "hostedZone")


def _ecr_repository(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    repo = state.get("name") or placeholder(name, "name")
    state.setdefault("name", repo)
    state["arn"] = mocks.arn("ecr", f"repository/{repo}")
    state["registryId"] = PLACEHOLDER_ACCOUNT
    state["repositoryUrl"] = f"{PLACEHOLDER_ACCOUNT}.dkr.ecr.{mocks.region}.amazonaws.com/{repo}"


def _docker_image(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    digest = placeholder_digest(name)
    state["digest"] = digest
    tags = list_or_empty(state.get("tags"))
    first = str(tags[0]) if tags else placeholder(name, "ref")
    state["ref"] = f"{first.rsplit(':', 1)[0]}@{digest}"


def _security_group(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    state["arn"] = mocks.arn("ec2", f"security-group/{placeholder(name, 'id')}")


def _vpc(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    state["arn"] = mocks.arn("ec2", f"vpc/{placeholder(name, 'id')}")
    state["defaultSecurityGroupId"] = placeholder(name, "defaultSecurityGroupId")
    state["mainRouteTableId"] = placeholder(name, "mainRouteTableId")


def _launch_template(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    state["arn"] = mocks.arn("ec2", f"launch-template/{placeholder(name, 'id')}")
    state["latestVersion"] = 1


def _http_route(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    # The Lattice controller writes the service's generated DNS name back onto the route.
    metadata = dict(mapping_or_empty(state.get("metadata")))
    annotations = dict(mapping_or_empty(metadata.get("annotations")))
    annotations["application-networking.k8s.aws/lattice-assigned-domain-name"] = (
        f"{placeholder(name, 'latticeDomain')}.vpc-lattice-svcs.{mocks.region}.on.aws"
    )
    metadata["annotations"] = annotations
    state["metadata"] = metadata


def _k8s_service(mocks: CloudMocks, name: str, state: dict[str, Any]) -> None:
    if mapping_or_empty(state.get("spec")).get("type") == "LoadBalancer":
        host = f"{placeholder(name, 'loadBalancer')}.elb.{mocks.region}.amazonaws.com"
        state["status"] = {"loadBalancer": {"ingress": [{"hostname": host}]}}


_OUTPUTS = {
    "eks:index:Cluster": _eks_cluster,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:kms/key:Key": _kms_key,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": _private_dns_namespace,
    "aws:ecr/repository:Repository": _ecr_repository,
    "docker-build:index:Image": _docker_image,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "kubernetes:core/v1:Service": _k8s_service,
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": _http_route,
}
