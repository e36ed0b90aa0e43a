"""Where this stack runs: partition, region and account, asked of AWS once."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra.iam import Arns
from infra.network import choose_azs


def lookup_arns(provider: aws.Provider) -> pulumi.Output[Arns]:
    """The deploying account's partition, region and id, via sts:GetCallerIdentity and friends."""
    return _arns(pulumi.InvokeOutputOptions(provider=provider))


def arns_for(parent: pulumi.Resource) -> pulumi.Output[Arns]:
    """The same, asked through ``parent``'s AWS provider (for components that build ARNs themselves)."""
    return _arns(pulumi.InvokeOutputOptions(parent=parent))


def _arns(opts: pulumi.InvokeOutputOptions) -> pulumi.Output[Arns]:
    identity = aws.get_caller_identity_output(opts=opts)
    partition = aws.get_partition_output(opts=opts)
    region = aws.get_region_output(opts=opts)
    return pulumi.Output.all(partition.partition, region.region, identity.account_id).apply(
        lambda values: Arns(partition=str(values[0]), region=str(values[1]), account_id=str(values[2]))
    )


def availability_zones(provider: aws.Provider, count: int, wanted: Sequence[str] | None = None) -> list[str]:
    """The zones to build in, from the region's available ones; stops the program (no traceback)
    when the region cannot provide them."""
    available = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(provider=provider))
    try:
        return choose_azs(available.names, count, wanted)
    except ValueError as exc:
        raise pulumi.RunError(str(exc)) from exc
