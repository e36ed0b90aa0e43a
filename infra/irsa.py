"""IrsaRole: an IAM role that exactly one Kubernetes service account of one cluster can assume."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.naming import TYPE_PREFIX, child


@dataclass(frozen=True)
class IrsaRoleArgs:
    role_name: str
    """Physical IAM role name (unique per stack)."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider."""
    oidc_issuer: pulumi.Input[str]
    """The cluster's OIDC issuer, with or without ``https://``."""
    namespace: str
    service_account: str
    policy: pulumi.Input[Mapping[str, Any]] | None = None
    """Inline policy document (see :mod:`infra.iam`); omit when only managed policies are needed."""
    managed_policies: Sequence[str] = ()
    """Names of AWS managed policies to attach, e.g. ``AmazonEKS_CNI_Policy`` (never a *FullAccess one)."""
    partition: pulumi.Input[str] = "aws"
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class IrsaRole(pulumi.ComponentResource):
    """IAM Roles for Service Accounts: the trust policy pins both the service account and the audience."""

    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: IrsaRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:IrsaRole", name, None, opts)
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
            lambda values: iam.irsa_trust_policy(values[0], values[1], args.namespace, args.service_account)
        )
        self.role = aws.iam.Role(
            child(name, "role"),
            name=args.role_name,
            description=f"IRSA for {args.namespace}/{args.service_account}",
            assume_role_policy=pulumi.Output.json_dumps(trust),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        attached: list[pulumi.Resource] = []
        if args.policy is not None:
            attached.append(
                aws.iam.RolePolicy(
                    child(name, "policy"),
                    role=self.role.name,
                    name=args.service_account,
                    policy=pulumi.Output.json_dumps(args.policy),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        for policy in args.managed_policies:
            attached.append(
                aws.iam.RolePolicyAttachment(
                    child(name, policy),
                    role=self.role.name,
                    policy_arn=pulumi.Output.concat("arn:", args.partition, f":iam::aws:policy/{policy}"),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        # Consumers take the ARN from here: it resolves only once the permissions are attached, so a
        # pod never starts with a role that cannot yet do its job.
        self.arn = pulumi.Output.all(self.role.arn, *(r.urn for r in attached)).apply(lambda v: str(v[0]))
        self.register_outputs({"arn": self.arn})
