"""Where this stack runs: partition, region and account, asked of AWS once."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra.config_parse import ConfigError, Problem
from infra.iam import Arns
from infra.network import ZoneChoiceError, choose_zone_ids


class UnavailableZoneError(ConfigError, pulumi.RunError):
    """Zones the account cannot give, as bad configuration: the command line reports it like every
    other configuration problem (key, value given, what was expected; exit 2), and inside ``pulumi up``
    it is a RunError, which the engine prints without a Python traceback."""


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


def availability_zones(
    provider: aws.Provider,
    *,
    region: str,
    count: int,
    instance_types: Sequence[str],
    wanted: Sequence[str] | None = None,
) -> list[str]:
    """The zone IDs to build in: available, not opt-in (Local/Wavelength zones), and offering every
    instance type; stops the program (no traceback) when the region cannot provide enough."""
    opts = pulumi.InvokeOptions(provider=provider)
    available = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=opts,
    )
    # https://www.pulumi.com/registry/packages/aws/api-docs/ec2/getinstancetypeofferings/
    offerings = aws.ec2.get_instance_type_offerings(
        location_type="availability-zone-id",
        filters=[
            aws.ec2.GetInstanceTypeOfferingsFilterArgs(
                name="instance-type", values=sorted(set(instance_types))
            ),
            aws.ec2.GetInstanceTypeOfferingsFilterArgs(name="location", values=list(available.zone_ids)),
        ],
        opts=opts,
    )
    try:
        return choose_zone_ids(
            region=region,
            names=available.names,
            zone_ids=available.zone_ids,
            offered=zip(offerings.instance_types, offerings.locations, strict=True),
            instance_types=instance_types,
            count=count,
            wanted=wanted,
        )
    except ZoneChoiceError as exc:
        problems = [Problem(f"crossmesh:{key}", value, expected) for key, value, expected in exc.problems]
        raise UnavailableZoneError(problems, f"Pulumi.{pulumi.get_stack()}.yaml") from None
