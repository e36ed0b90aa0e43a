"""Every guardrail on a good and a bad resource, by calling its validation directly.

Resource rules go through ``Rule.validate(type, props, name)`` (what CrossGuard's resource validation
calls), stack rules through ``Rule.validate_stack(resources)``. Each bad case names the resource that
must be blamed and a piece of the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from policy.crossmesh_policy import BY_ID, RULES, Resource, Rule, Settings, Violation
from policy.crossmesh_policy import types as t
from tests.policy.support import (
    DEPLOYMENT,
    attachment,
    cluster,
    container,
    deployment,
    irsa_role,
    node_role,
    res,
    security_context,
    service_account,
    trust,
)

ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234"


@dataclass
class Bad:
    resources: list[Resource]
    blamed: str
    says: str


@dataclass
class Case:
    good: list[list[Resource]]
    bad: list[Bad] = field(default_factory=list[Bad])
    settings: Settings | None = None
    """The environment's settings both the good and the bad cases are judged with."""


def violations(rule: Rule, resources: list[Resource], settings: Settings | None = None) -> list[Violation]:
    if rule.is_stack_rule:
        return rule.validate_stack(resources, settings)
    return [v for r in resources for v in rule.validate(r.type, r.props, r.name, r.urn, settings)]


def one(resource: Resource) -> list[Resource]:
    return [resource]


# --- networks for the subnet and cross-cluster rules ------------------------------------------------

IGW = res(t.INTERNET_GATEWAY, {}, "igw")
PRIVATE = res(t.SUBNET, {"mapPublicIpOnLaunch": False}, "private-a")
PUBLIC = res(t.SUBNET, {"mapPublicIpOnLaunch": False, "tags": {"crossmesh/tier": "public"}}, "public-a")
PUBLIC_TABLE = res(
    t.ROUTE_TABLE,
    {"routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "<igw.id>"}]},
    "public",
    deps={"routes": [IGW]},
)
PUBLIC_ASSOCIATION = res(
    t.ROUTE_TABLE_ASSOCIATION, {}, "public-a", deps={"subnetId": [PUBLIC], "routeTableId": [PUBLIC_TABLE]}
)
NETWORK = [IGW, PRIVATE, PUBLIC, PUBLIC_TABLE, PUBLIC_ASSOCIATION]


def role_trusting(name: str, statement: dict[str, Any]) -> Resource:
    """A role whose trust policy is one Allow statement for sts:AssumeRole with ``statement``'s fields."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", **statement}],
    }
    return res(t.IAM_ROLE, {"name": name, "assumeRolePolicy": json.dumps(document)}, name)


def node_group(*subnets: Resource) -> Resource:
    return res(
        t.EKS_MANAGED_NODE_GROUP,
        {"subnetIds": [f"<{s.name}.id>" for s in subnets], "launchTemplate": {"id": "lt-1", "version": "1"}},
        "nodes",
        deps={"subnetIds": list(subnets)},
    )


C1, C2 = cluster("eksc1-eks"), cluster("eksc2-eks")


def cross_rule(protocol: str = "tcp", low: int = 8080, high: int = 8080, source: Resource = C1) -> Resource:
    return res(
        t.INGRESS_RULE,
        {
            "securityGroupId": "<eksc2-eks.clusterSecurityGroupId>",
            "referencedSecurityGroupId": f"<{source.name}.clusterSecurityGroupId>",
            "ipProtocol": protocol,
            "fromPort": low,
            "toPort": high,
        },
        "cross",
        deps={"securityGroupId": [C2], "referencedSecurityGroupId": [source]},
    )


def namespace(name: str, labels: dict[str, str], provider: str = "c1") -> Resource:
    return res(
        t.K8S_NAMESPACE, {"metadata": {"name": name, "labels": labels}}, f"ns-{name}", provider=provider
    )


def psa(enforce: str = "restricted", audit: str = "restricted", warn: str = "restricted") -> dict[str, str]:
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/audit": audit,
        "pod-security.kubernetes.io/warn": warn,
    }


def netpol(namespace_name: str, provider: str = "c1", **spec: Any) -> Resource:
    """A default deny both ways, or the policy ``spec`` describes."""
    body = spec or {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    return res(
        t.K8S_NETWORK_POLICY,
        {"metadata": {"name": "default-deny", "namespace": namespace_name}, "spec": body},
        f"netpol-{namespace_name}-{provider}",
        provider=provider,
    )


def load_balancer(port: int, ranges: list[str] | None) -> Resource:
    spec: dict[str, Any] = {"type": "LoadBalancer", "ports": [{"port": port}]}
    if ranges is not None:
        spec["loadBalancerSourceRanges"] = ranges
    return res(
        t.K8S_SERVICE, {"metadata": {"name": "front", "namespace": "apps"}, "spec": spec}, "front-service"
    )


def policy_doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


NODES = node_role()
APP_ROLE = irsa_role("crossmesh-dev-app")
APP_ROLE_ARN = "arn:aws:iam::123456789012:role/crossmesh-dev-app"

CASES: dict[str, Case] = {
    "eks-control-plane-logs": Case(
        good=[
            one(res(t.EKS_CLUSTER, {"enabledClusterLogTypes": ALL_LOGS})),
            one(res(t.AWS_EKS_CLUSTER, {"enabledClusterLogTypes": list(reversed(ALL_LOGS))})),
        ],
        bad=[
            Bad(
                one(res(t.EKS_CLUSTER, {"enabledClusterLogTypes": ["api", "audit"]}, "c")),
                "c",
                "not enabled: authenticator, controllerManager, scheduler",
            ),
            Bad(one(res(t.AWS_EKS_CLUSTER, {}, "inner")), "inner", "not enabled: api, audit"),
        ],
    ),
    "eks-secrets-encryption": Case(
        good=[
            one(res(t.EKS_CLUSTER, {"encryptionConfigKeyArn": KEY_ARN})),
            one(
                res(
                    t.AWS_EKS_CLUSTER,
                    {"encryptionConfig": {"provider": {"keyArn": KEY_ARN}, "resources": ["secrets"]}},
                )
            ),
        ],
        bad=[
            Bad(one(res(t.EKS_CLUSTER, {}, "c")), "c", "not envelope-encrypted"),
            Bad(
                one(
                    res(
                        t.EKS_CLUSTER,
                        {"encryptionConfigKeyArn": "arn:aws:kms:us-east-1:1:alias/aws/eks"},
                        "c",
                    )
                ),
                "c",
                "customer-managed",
            ),
            Bad(
                one(
                    res(
                        t.AWS_EKS_CLUSTER,
                        {"encryptionConfig": {"provider": {"keyArn": KEY_ARN}, "resources": []}},
                        "i",
                    )
                ),
                "i",
                "does not cover the 'secrets'",
            ),
        ],
    ),
    "eks-endpoint-private-access": Case(
        good=[
            one(res(t.EKS_CLUSTER, {"endpointPrivateAccess": True})),
            one(res(t.AWS_EKS_CLUSTER, {"vpcConfig": {"endpointPrivateAccess": True}})),
        ],
        bad=[
            Bad(one(res(t.EKS_CLUSTER, {}, "c")), "c", "private API endpoint is off"),
            Bad(
                one(res(t.AWS_EKS_CLUSTER, {"vpcConfig": {"endpointPrivateAccess": False}}, "i")),
                "i",
                "is off",
            ),
        ],
    ),
    "eks-endpoint-public-access-restricted": Case(
        good=[
            one(res(t.EKS_CLUSTER, {"endpointPublicAccess": False})),
            one(res(t.EKS_CLUSTER, {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})),
            one(res(t.AWS_EKS_CLUSTER, {"vpcConfig": {"endpointPublicAccess": False}})),
        ],
        bad=[
            # EKS opens the public endpoint to everyone unless told otherwise.
            Bad(one(res(t.EKS_CLUSTER, {}, "c")), "c", "accepts 0.0.0.0/0"),
            Bad(
                one(
                    res(
                        t.EKS_CLUSTER,
                        {"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8", "0.0.0.0/0"]},
                        "c",
                    )
                ),
                "c",
                "accepts 0.0.0.0/0",
            ),
            Bad(
                one(res(t.AWS_EKS_CLUSTER, {"vpcConfig": {"publicAccessCidrs": ["::/0"]}}, "i")),
                "i",
                "accepts ::/0",
            ),
            # Two halves of the internet are the whole of it.
            Bad(
                one(res(t.EKS_CLUSTER, {"publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "halves")),
                "halves",
                "accepts 0.0.0.0/1, 128.0.0.0/1",
            ),
        ],
    ),
    "eks-nodes-private-subnets": Case(
        good=[[*NETWORK, node_group(PRIVATE)]],
        bad=[
            Bad(
                [*NETWORK, node_group(PRIVATE, PUBLIC)],
                "nodes",
                "subnet public-a, which routes through an internet gateway",
            ),
            Bad(
                [
                    res(t.SUBNET, {"mapPublicIpOnLaunch": True}, "open"),
                    node_group(res(t.SUBNET, {"mapPublicIpOnLaunch": True}, "open")),
                ],
                "nodes",
                "assigns public IPs at launch",
            ),
            Bad(
                one(res(t.EKS_CLUSTER, {"nodeAssociatePublicIpAddress": True}, "c")),
                "c",
                "public IP addresses",
            ),
            Bad(
                one(
                    res(
                        t.LAUNCH_TEMPLATE, {"networkInterfaces": [{"associatePublicIpAddress": "true"}]}, "lt"
                    )
                ),
                "lt",
                "public IP addresses",
            ),
        ],
    ),
    "eks-access-entries": Case(
        good=[
            one(res(t.EKS_CLUSTER, {"authenticationMode": "API"})),
            one(res(t.AWS_EKS_CLUSTER, {"accessConfig": {"authenticationMode": "API"}})),
        ],
        bad=[
            Bad(
                one(res(t.EKS_CLUSTER, {"authenticationMode": "API_AND_CONFIG_MAP"}, "c")),
                "c",
                "API_AND_CONFIG_MAP",
            ),
            Bad(one(res(t.AWS_EKS_CLUSTER, {}, "i")), "i", "unset (CONFIG_MAP)"),
        ],
    ),
    "eks-node-imdsv2": Case(
        good=[
            one(
                res(
                    t.LAUNCH_TEMPLATE,
                    {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}},
                )
            ),
            one(res(t.LAUNCH_TEMPLATE, {"metadataOptions": {"httpEndpoint": "disabled"}})),
            one(res(t.EKS_MANAGED_NODE_GROUP, {"launchTemplate": {"id": "lt-1", "version": "1"}})),
            one(res(t.EKS_CLUSTER, {"skipDefaultNodeGroup": True})),
        ],
        bad=[
            # The component's own node group would run on pulumi-eks's launch template, not ours.
            Bad(one(res(t.EKS_CLUSTER, {}, "c")), "c", "creates pulumi-eks's default node group"),
            Bad(
                one(res(t.EKS_CLUSTER, {"skipDefaultNodeGroup": False}, "c")),
                "c",
                "creates pulumi-eks's default node group",
            ),
            Bad(
                one(
                    res(
                        t.LAUNCH_TEMPLATE,
                        {"metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 1}},
                        "lt",
                    )
                ),
                "lt",
                "IMDSv2 is not required",
            ),
            Bad(
                one(
                    res(
                        t.LAUNCH_TEMPLATE,
                        {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}},
                        "lt",
                    )
                ),
                "lt",
                "hop limit is 2",
            ),
            Bad(one(res(t.AWS_EKS_NODE_GROUP, {}, "ng")), "ng", "no launch template"),
        ],
    ),
    "eks-no-ssh": Case(
        good=[
            one(res(t.LAUNCH_TEMPLATE, {})),
            one(res(t.EKS_MANAGED_NODE_GROUP, {})),
            one(res(t.INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443})),
        ],
        bad=[
            Bad(one(res(t.LAUNCH_TEMPLATE, {"keyName": "ops"}, "lt")), "lt", "SSH key pair (ops)"),
            Bad(
                one(res(t.EKS_MANAGED_NODE_GROUP, {"remoteAccess": {"ec2SshKey": "ops"}}, "ng")),
                "ng",
                "remote (SSH) access",
            ),
            Bad(
                one(
                    res(
                        t.SECURITY_GROUP_RULE,
                        {"type": "ingress", "protocol": "tcp", "fromPort": 0, "toPort": 1024},
                        "r",
                    )
                ),
                "r",
                "port 22",
            ),
            Bad(
                one(
                    res(t.SECURITY_GROUP, {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0}]}, "sg")
                ),
                "sg",
                "port 22",
            ),
        ],
    ),
    "iam-irsa-per-service-account": Case(
        good=[
            [
                APP_ROLE,
                service_account("app", APP_ROLE_ARN),
                NODES,
                attachment(NODES, "AmazonEKSWorkerNodePolicy"),
                attachment(NODES, "AmazonEC2ContainerRegistryReadOnly"),
            ]
        ],
        bad=[
            Bad(
                one(irsa_role("wide", {"StringLike": {"oidc:sub": "system:serviceaccount:apps:*"}})),
                "wide",
                "by pattern",
            ),
            Bad(
                one(irsa_role("noaud", {"StringEquals": {"oidc:sub": "system:serviceaccount:apps:app"}})),
                "noaud",
                "audience",
            ),
            Bad(
                one(irsa_role("any", {"StringEquals": {"oidc:aud": "sts.amazonaws.com"}})),
                "any",
                "exactly one service account",
            ),
            # IAM reads action names without regard to case and expands wildcards in them: a trust
            # spelt either way is still a web-identity trust, here with no condition at all.
            Bad(
                one(
                    res(
                        t.IAM_ROLE,
                        {"name": "lower", "assumeRolePolicy": trust({}, "sts:assumerolewithwebidentity")},
                        "lower",
                    )
                ),
                "lower",
                "exactly one service account",
            ),
            Bad(
                one(
                    res(
                        t.IAM_ROLE, {"name": "glob", "assumeRolePolicy": trust({}, "sts:AssumeRole*")}, "glob"
                    )
                ),
                "glob",
                "exactly one service account",
            ),
            Bad(
                [
                    APP_ROLE,
                    service_account("a", APP_ROLE_ARN),
                    service_account("b", APP_ROLE_ARN, provider="c2"),
                ],
                "crossmesh-dev-app",
                "shared by 2 service accounts",
            ),
            Bad(
                [NODES, attachment(NODES, "AmazonEKS_CNI_Policy")],
                "nodes-AmazonEKS_CNI_Policy",
                "carries AmazonEKS_CNI_Policy",
            ),
            Bad(
                [NODES, res(t.IAM_ROLE_POLICY, {"role": "nodes", "policy": policy_doc()}, "inline")],
                "inline",
                "inline policy",
            ),
        ],
    ),
    "iam-trust-named-principals": Case(
        good=[[APP_ROLE, NODES]],
        bad=[
            Bad(
                one(role_trusting("open", {"Sid": "Anyone", "Principal": {"AWS": "*"}})),
                "open",
                "every AWS principal",
            ),
            Bad(one(role_trusting("star", {"Principal": "*"})), "star", "every AWS principal"),
            Bad(
                one(
                    role_trusting(
                        "listed", {"Principal": {"AWS": ["arn:aws:iam::123456789012:role/ops", "*"]}}
                    )
                ),
                "listed",
                "every AWS principal",
            ),
        ],
    ),
    "iam-no-wildcard-admin": Case(
        good=[
            one(
                res(
                    t.IAM_ROLE_POLICY,
                    {"policy": policy_doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"})},
                )
            ),
            one(
                res(t.IAM_POLICY, {"policy": policy_doc({"Effect": "Deny", "Action": "*", "Resource": "*"})})
            ),
        ],
        bad=[
            Bad(
                one(
                    res(
                        t.IAM_ROLE_POLICY,
                        {
                            "policy": policy_doc(
                                {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}
                            )
                        },
                        "p",
                    )
                ),
                "p",
                "statement All allows every action on every resource",
            ),
            Bad(
                one(
                    res(
                        t.IAM_ROLE,
                        {
                            "inlinePolicies": [
                                {
                                    "policy": policy_doc(
                                        {"Effect": "Allow", "NotAction": "iam:*", "Resource": ["*"]}
                                    )
                                }
                            ]
                        },
                        "r",
                    )
                ),
                "r",
                "all but a few actions",
            ),
        ],
    ),
    "iam-no-full-access-policies": Case(
        good=[
            one(attachment(NODES, "AmazonEKSWorkerNodePolicy")),
            one(
                res(
                    t.IAM_ROLE_POLICY_ATTACHMENT,
                    {"policyArn": "arn:aws:iam::123456789012:policy/TeamFullAccess"},
                )
            ),
        ],
        bad=[
            Bad(
                one(attachment(NODES, "AmazonS3FullAccess")), "nodes-AmazonS3FullAccess", "AmazonS3FullAccess"
            ),
            Bad(
                one(
                    res(
                        t.IAM_ROLE,
                        {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
                        "r",
                    )
                ),
                "r",
                "AdministratorAccess",
            ),
        ],
    ),
    "iam-node-role-ecr-read-only": Case(
        good=[
            [NODES, attachment(NODES, "AmazonEC2ContainerRegistryReadOnly")],
            [NODES, attachment(NODES, "AmazonEC2ContainerRegistryPullOnly")],
        ],
        bad=[
            Bad(
                [NODES, attachment(NODES, "AmazonEC2ContainerRegistryPowerUser")],
                "nodes-AmazonEC2ContainerRegistryPowerUser",
                "can push or delete images",
            ),
            Bad(
                [
                    NODES,
                    res(
                        t.IAM_ROLE_POLICY,
                        {
                            "role": "nodes",
                            "policy": policy_doc(
                                {
                                    "Effect": "Allow",
                                    "Action": ["ecr:BatchGetImage", "ecr:PutImage"],
                                    "Resource": "*",
                                }
                            ),
                        },
                        "inline",
                    ),
                ],
                "inline",
                "ecr:PutImage",
            ),
        ],
    ),
    "ecr-scan-on-push": Case(
        good=[one(res(t.ECR_REPOSITORY, {"imageScanningConfiguration": {"scanOnPush": True}}))],
        bad=[Bad(one(res(t.ECR_REPOSITORY, {}, "repo")), "repo", "not scanned")],
    ),
    "ecr-immutable-tags": Case(
        good=[one(res(t.ECR_REPOSITORY, {"imageTagMutability": "IMMUTABLE"}))],
        bad=[
            Bad(
                one(res(t.ECR_REPOSITORY, {"imageTagMutability": "MUTABLE"}, "repo")),
                "repo",
                "can be overwritten",
            )
        ],
    ),
    "logs-encrypted-with-retention": Case(
        good=[one(res(t.LOG_GROUP, {"kmsKeyId": KEY_ARN, "retentionInDays": 30}))],
        bad=[
            Bad(one(res(t.LOG_GROUP, {"retentionInDays": 30}, "lg")), "lg", "not encrypted"),
            Bad(one(res(t.LOG_GROUP, {"kmsKeyId": KEY_ARN}, "lg")), "lg", "keeps logs forever"),
        ],
    ),
    "kms-key-rotation": Case(
        good=[
            one(res(t.KMS_KEY, {"enableKeyRotation": True})),
            one(res(t.KMS_KEY, {"customerMasterKeySpec": "RSA_2048"})),
        ],
        bad=[Bad(one(res(t.KMS_KEY, {}, "key")), "key", "rotation is off")],
    ),
    "network-no-world-ingress": Case(
        good=[
            one(
                res(
                    t.INGRESS_RULE,
                    {"cidrIpv4": "10.0.0.0/8", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443},
                )
            ),
            one(load_balancer(80, ["0.0.0.0/0"])),
            one(load_balancer(8080, ["203.0.113.0/24"])),
            # Half of the internet is not all of it, and what is not a block is not judged here.
            one(load_balancer(8080, ["0.0.0.0/1", "pl-0123456789abcdef0"])),
        ],
        bad=[
            Bad(
                one(
                    res(
                        t.INGRESS_RULE,
                        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 8080, "toPort": 8080},
                        "r",
                    )
                ),
                "r",
                "ingress from 0.0.0.0/0",
            ),
            Bad(
                one(
                    res(
                        t.SECURITY_GROUP, {"ingress": [{"ipv6CidrBlocks": ["::/0"], "protocol": "tcp"}]}, "sg"
                    )
                ),
                "sg",
                "::/0",
            ),
            Bad(one(load_balancer(8080, ["0.0.0.0/0"])), "front-service", "listens on port(s) 8080"),
            Bad(
                one(load_balancer(8080, ["0.0.0.0/1", "128.0.0.0/1"])),
                "front-service",
                "listens on port(s) 8080",
            ),
            Bad(
                one(
                    res(
                        t.SECURITY_GROUP,
                        {"ingress": [{"cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"], "protocol": "tcp"}]},
                        "halves",
                    )
                ),
                "halves",
                "ingress from 0.0.0.0/1, 128.0.0.0/1",
            ),
            # A /0 written with host bits is still the whole internet.
            Bad(
                one(res(t.INGRESS_RULE, {"cidrIpv4": "203.0.113.9/0", "ipProtocol": "tcp"}, "hostbits")),
                "hostbits",
                "ingress from 203.0.113.9/0",
            ),
            Bad(one(load_balancer(22, None)), "front-service", "listens on port(s) 22"),
        ],
    ),
    "network-cross-cluster-app-port": Case(
        good=[[C1, C2, cross_rule()]],
        bad=[
            Bad([C1, C2, cross_rule(low=0, high=65535)], "cross", "ports 0-65535"),
            Bad([C1, C2, cross_rule(protocol="-1")], "cross", "protocol -1"),
            Bad([C1, C2, cross_rule(source=C2)], "cross", "to themselves"),
            Bad(
                [C1, C2, cross_rule(source=res(t.SECURITY_GROUP, {}, "bastion"))],
                "cross",
                "not another cluster's nodes",
            ),
        ],
    ),
    "k8s-no-default-namespace": Case(
        good=[
            one(deployment()),
            one(namespace("apps", psa())),
            one(res("kubernetes:appmesh.k8s.aws/v1beta2:Mesh", {"metadata": {"name": "global"}})),
            one(res(t.HELM_RELEASE, {"namespace": "appmesh-system"})),
        ],
        bad=[
            Bad(one(deployment(namespace="default")), "app", "lands in the default namespace"),
            Bad(one(res(t.K8S_SERVICE, {"metadata": {"name": "x"}}, "svc")), "svc", "no namespace given"),
            Bad(one(res(t.HELM_RELEASE, {"namespace": "default"}, "rel")), "rel", "default namespace"),
        ],
    ),
    "k8s-service-account-tokens": Case(
        good=[
            one(res(t.K8S_SERVICE_ACCOUNT, {"automountServiceAccountToken": False})),
            one(deployment()),
            one(
                deployment(
                    annotations={"crossmesh.dev/kubernetes-api-access": "reads its ConfigMap"},
                    automountServiceAccountToken=True,
                )
            ),
        ],
        bad=[
            Bad(one(res(t.K8S_SERVICE_ACCOUNT, {}, "sa")), "sa", "mounts its token into every pod"),
            Bad(one(deployment(automountServiceAccountToken=None)), "app", "without saying why"),
            Bad(
                one(deployment(automountServiceAccountToken=True)),
                "app",
                "annotate crossmesh.dev/kubernetes-api-access",
            ),
        ],
    ),
    "k8s-network-policy-per-namespace": Case(
        good=[
            [namespace("apps", psa()), netpol("apps")],
            # Egress is implied by egress rules when policyTypes is left out.
            [namespace("apps", psa()), netpol("apps", podSelector={}, egress=[{"ports": [{"port": 443}]}])],
        ],
        bad=[
            Bad(one(namespace("apps", psa())), "ns-apps", "has no NetworkPolicy"),
            # A policy in the same-named namespace of another cluster does not cover this one.
            Bad([namespace("apps", psa()), netpol("apps", provider="c2")], "ns-apps", "has no NetworkPolicy"),
            # Ingress only (policyTypes left out, no egress rules): every pod may still send anywhere.
            Bad(
                [namespace("apps", psa()), netpol("apps", podSelector={}, ingress=[{"from": []}])],
                "ns-apps",
                "both Ingress and Egress",
            ),
            Bad(
                [namespace("apps", psa()), netpol("apps", podSelector={}, policyTypes=["Ingress"])],
                "ns-apps",
                "both Ingress and Egress",
            ),
            # Both ways, but only for some pods.
            Bad(
                [
                    namespace("apps", psa()),
                    netpol(
                        "apps", podSelector={"matchLabels": {"app": "a"}}, policyTypes=["Ingress", "Egress"]
                    ),
                ],
                "ns-apps",
                "both Ingress and Egress",
            ),
        ],
    ),
    "k8s-pod-security-labels": Case(
        good=[
            one(namespace("apps", psa())),
            one(
                namespace(
                    "mesh-apps", {**psa("privileged"), "appmesh.k8s.aws/sidecarInjectorWebhook": "enabled"}
                )
            ),
            one(namespace("appmesh-system", psa("baseline"))),
        ],
        bad=[
            Bad(one(namespace("apps", {})), "ns-apps", "no pod-security.kubernetes.io/enforce label"),
            Bad(
                one(namespace("apps", psa("baseline"))),
                "ns-apps",
                "strictest level its pods allow is restricted",
            ),
            Bad(one(namespace("apps", psa(warn="baseline"))), "ns-apps", "warns at baseline"),
            Bad(
                one(namespace("appmesh-system", psa("privileged"))), "ns-appmesh-system", "allow is baseline"
            ),
            # An exception belongs to the namespace the backend names, not to a look-alike label.
            Bad(
                one(
                    namespace(
                        "apps", {**psa("privileged"), "appmesh.k8s.aws/sidecarInjectorWebhook": "enabled"}
                    )
                ),
                "ns-apps",
                "allow is restricted",
            ),
        ],
        # What the App Mesh backend declares (infra/mesh/appmesh/backend.py pod_security_exceptions).
        settings=Settings(
            pod_security_exceptions={
                "mesh-apps": {"level": "privileged", "reason": "App Mesh injects proxyinit (NET_ADMIN)"},
                "appmesh-system": {"level": "baseline", "reason": "the chart's pod template"},
            }
        ),
    ),
    "k8s-no-privileged-or-host-namespaces": Case(
        good=[one(deployment())],
        bad=[
            Bad(one(deployment(hostNetwork=True)), "app", "node's Network namespace"),
            Bad(
                one(deployment([container(securityContext=security_context(privileged=True))])),
                "app",
                "runs privileged",
            ),
        ],
    ),
    "k8s-no-privilege-escalation": Case(
        good=[one(deployment())],
        bad=[
            Bad(
                one(deployment([container(securityContext=security_context(allowPrivilegeEscalation=True))])),
                "app",
                "allowPrivilegeEscalation is not false",
            )
        ],
    ),
    "k8s-run-as-non-root": Case(
        good=[one(deployment())],
        bad=[
            # Pod-level runAsNonRoot does not count: App Mesh's proxyinit would inherit it.
            Bad(
                one(
                    deployment(
                        [container(securityContext=security_context(runAsNonRoot=None))],
                        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    )
                ),
                "app",
                "runAsNonRoot is not set on the container",
            ),
            Bad(
                one(deployment([container(securityContext=security_context(runAsUser=0))])),
                "app",
                "runs as UID 0",
            ),
        ],
    ),
    "k8s-drop-all-capabilities": Case(
        good=[one(deployment())],
        bad=[
            Bad(
                one(
                    deployment(
                        [container(securityContext=security_context(capabilities={"drop": ["NET_RAW"]}))]
                    )
                ),
                "app",
                "does not drop ALL",
            ),
            Bad(
                one(
                    deployment(
                        [
                            container(
                                securityContext=security_context(
                                    capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]}
                                )
                            )
                        ]
                    )
                ),
                "app",
                "adds capabilities NET_ADMIN",
            ),
        ],
    ),
    "k8s-read-only-root-filesystem": Case(
        good=[one(deployment())],
        bad=[
            Bad(
                one(deployment([container(securityContext=security_context(readOnlyRootFilesystem=False))])),
                "app",
                "root filesystem is writable",
            )
        ],
    ),
    "k8s-seccomp-runtime-default": Case(
        good=[
            one(deployment()),
            one(deployment([container(securityContext=security_context(seccompProfile=None))])),
        ],
        bad=[
            Bad(
                one(
                    deployment(
                        [container(securityContext=security_context(seccompProfile={"type": "Unconfined"}))]
                    )
                ),
                "app",
                "seccomp profile is Unconfined",
            ),
            Bad(
                one(
                    deployment(
                        [container(securityContext=security_context(seccompProfile=None))], securityContext={}
                    )
                ),
                "app",
                "unset (Unconfined)",
            ),
        ],
    ),
    "k8s-requests-and-limits": Case(
        good=[one(deployment())],
        bad=[
            Bad(
                one(deployment([container(resources={"requests": {"cpu": "50m", "memory": "64Mi"}})])),
                "app",
                "missing resources limits.cpu, limits.memory",
            )
        ],
    ),
    "k8s-probes": Case(
        good=[
            one(deployment()),
            one(deployment(initContainers=[container(name="init", readinessProbe=None, livenessProbe=None)])),
        ],
        bad=[Bad(one(deployment([container(livenessProbe=None)])), "app", "no livenessProbe")],
    ),
    "k8s-images-by-digest": Case(
        good=[one(deployment())],
        bad=[
            Bad(
                one(deployment([container(image="registry.example/app:latest")])),
                "app",
                "not pinned by digest",
            )
        ],
    ),
}


def test_every_rule_has_good_and_bad_cases() -> None:
    assert set(CASES) == set(BY_ID)
    assert all(case.good and case.bad for case in CASES.values())


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_good_resources_pass(rule_id: str) -> None:
    rule = BY_ID[rule_id]
    for resources in CASES[rule_id].good:
        assert violations(rule, resources, CASES[rule_id].settings) == [], [r.props for r in resources]


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_bad_resources_are_named_with_the_policy_and_the_fix(rule_id: str) -> None:
    rule = BY_ID[rule_id]
    for bad in CASES[rule_id].bad:
        found = violations(rule, bad.resources, CASES[rule_id].settings)
        assert found, f"{rule_id} let {[r.props for r in bad.resources]} through"
        blamed = [v for v in found if v.resource_name == bad.blamed and bad.says in v.message]
        assert blamed, [str(v) for v in found]
        violation = blamed[0]
        assert violation.policy == rule_id
        assert violation.fix == rule.remediation
        text = str(violation)
        assert bad.blamed in text
        assert rule_id in text
        assert rule.remediation in text


def test_rule_metadata_is_complete() -> None:
    for rule in RULES:
        assert rule.id == rule.id.lower()
        assert " " not in rule.id
        assert rule.title.endswith(".") or rule.title.endswith(")"), rule.id
        assert rule.remediation
        assert rule.types


def test_resource_rules_ignore_types_they_do_not_read() -> None:
    rule = BY_ID["ecr-scan-on-push"]
    assert rule.validate(t.LOG_GROUP, {}, "other") == []


def test_stack_rules_refuse_single_resource_validation() -> None:
    with pytest.raises(TypeError, match="checks the whole stack"):
        BY_ID["k8s-network-policy-per-namespace"].validate(t.K8S_NAMESPACE, {}, "x")


def test_cross_cluster_rule_follows_the_configured_app_port() -> None:
    rule = BY_ID["network-cross-cluster-app-port"]
    resources = [C1, C2, cross_rule(low=9090, high=9090)]
    assert violations(rule, resources, Settings(app_port=9090)) == []
    assert "only TCP 8080" in violations(rule, resources)[0].message


def test_pod_level_run_as_non_root_alone_is_not_enough_but_container_level_is() -> None:
    rule = BY_ID["k8s-run-as-non-root"]
    hardened = deployment()
    assert rule.validate(DEPLOYMENT, hardened.props, "app") == []
