"""EncryptedLogGroup: a CloudWatch log group with retention and a customer-managed key of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.account import arns_for
from infra.naming import TYPE_PREFIX, child


@dataclass(frozen=True)
class EncryptedLogGroupArgs:
    group_name: str
    """Physical log group name, e.g. ``/aws/eks/<cluster>/cluster``."""
    key_alias: str
    """Alias of the key, without ``alias/``."""
    description: str
    retention_days: int
    tags: Mapping[str, str] = field(default_factory=dict[str, str])
    protect: bool = False
    """Protect the key from deletion (losing it makes the logs unreadable)."""


class EncryptedLogGroup(pulumi.ComponentResource):
    """The key's policy lets CloudWatch Logs use it for this one group only (iam.logs_key_policy)."""

    group: aws.cloudwatch.LogGroup

    def __init__(
        self, name: str, args: EncryptedLogGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:EncryptedLogGroup", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            child(name, "key"),
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(
                arns_for(self).apply(lambda arns: iam.logs_key_policy(arns, [args.group_name]))
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.kms.Alias(child(name, "key"), name=f"alias/{args.key_alias}", target_key_id=key.key_id, opts=here)
        self.group = aws.cloudwatch.LogGroup(
            name,
            name=args.group_name,
            retention_in_days=args.retention_days,
            kms_key_id=key.arn,
            tags=dict(args.tags),
            opts=here,
        )
        self.register_outputs({"arn": self.group.arn})
