"""What a deployed stack cannot change in place: a stack file that changes it is refused, naming the key,
the value given and the value the stack was built with; one that keeps it passes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config_parse import parse_stack_file
from infra.fixed_settings import (
    deployed_network,
    deployed_region,
    deployed_service_cidrs,
    fixed_setting_problems,
)
from infra.network import Tier, plan_subnets
from tests.support import exported_state, record_env, stack_document, variant

COMMITTED = ["dev", "staging", "prod"]


def _problems(env: str, change: Any = None) -> list[str]:
    document = variant(env, change) if change is not None else stack_document(env)
    config = parse_stack_file(document, env)
    return [str(p) for p in fixed_setting_problems(config, exported_state(record_env(env)))]


@pytest.mark.parametrize("env", COMMITTED)
def test_the_stack_file_it_was_built_from_passes(env: str) -> None:
    assert _problems(env) == []


def test_a_stack_without_state_is_a_first_deploy() -> None:
    config = parse_stack_file(stack_document("dev"), "dev")
    assert fixed_setting_problems(config, []) == []


def test_the_service_range_is_read_from_the_eks_clusters() -> None:
    assert deployed_service_cidrs(exported_state(record_env("dev"))) == {
        "eksc1-dev": "172.20.0.0/16",
        "eksc2-dev": "172.20.0.0/16",
    }


def test_another_service_range_is_refused_naming_the_deployed_one() -> None:
    # Force-new in EKS (KubernetesNetworkConfigRequest.serviceIpv4Cidr: "You can't change this value
    # after the cluster is created"), and the replacement cluster would take the same name.
    problems = _problems("dev", lambda c: c["crossmesh:network"].update(serviceCidr="10.100.0.0/16"))
    assert len(problems) == 1
    assert problems[0].startswith(
        "crossmesh:network.serviceCidr: got '10.100.0.0/16'; expected 172.20.0.0/16, the range the "
        "deployed clusters (eksc1-dev, eksc2-dev) were created with"
    )
    assert "same name" in problems[0]


def test_a_cluster_added_to_a_deployed_stack_is_not_compared() -> None:
    def add_cluster(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"].append({"name": "eksc3", "nodes": {"desired": 2, "min": 2, "max": 3}})

    assert _problems("dev", add_cluster) == []


def test_the_network_is_read_from_the_vpc_and_its_subnets() -> None:
    network = deployed_network(exported_state(record_env("dev")))
    assert network is not None
    assert network.cidr == "172.16.0.0/16"
    assert [str(s) for s in network.subnets[Tier.PRIVATE]] == ["172.16.0.0/19", "172.16.32.0/19"]
    assert [str(s) for s in network.subnets[Tier.PUBLIC]] == ["172.16.64.0/24", "172.16.65.0/24"]


def test_another_vpc_block_is_refused_and_the_subnets_are_not_blamed_too() -> None:
    problems = _problems("dev", lambda c: c["crossmesh:network"].update(cidr="10.0.0.0/16"))
    assert len(problems) == 1
    assert problems[0].startswith(
        "crossmesh:network.cidr: got '10.0.0.0/16'; expected 172.16.0.0/16, the deployed VPC's block"
    )


def test_another_zone_count_is_refused_because_it_moves_the_public_subnets() -> None:
    # 3 zones: private-az3 takes 172.16.64.0/19, where public-az1 (172.16.64.0/24) still is, and both
    # public subnets move (force-new cidrBlock); EC2 refuses a subnet overlapping an existing one.
    config = parse_stack_file(variant("dev", lambda c: c["crossmesh:network"].update(azCount=3)), "dev")
    planned = plan_subnets("172.16.0.0/16", ["a", "b", "c"], private_prefix=19, public_prefix=24)
    assert [p.cidr for p in planned if p.tier is Tier.PUBLIC] == [
        "172.16.96.0/24",
        "172.16.97.0/24",
        "172.16.98.0/24",
    ]
    problems = [str(p) for p in fixed_setting_problems(config, exported_state(record_env("dev")))]
    assert len(problems) == 1
    assert problems[0].startswith(
        "crossmesh:network.azCount: got 3; expected 2, the zones the deployed subnets span"
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("privateSubnetPrefix", 20, "expected 19"), ("publicSubnetPrefix", 26, "expected 24")],
)
def test_another_subnet_size_is_refused(key: str, value: int, expected: str) -> None:
    problems = _problems("dev", lambda c: c["crossmesh:network"].update({key: value}))
    assert len(problems) == 1
    assert problems[0].startswith(f"crossmesh:network.{key}: got {value}; {expected}, the deployed subnets'")


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["crossmesh:network"].update(natGateways="perAz"),
        lambda c: c["crossmesh:network"].update(flowLogs=False),
        lambda c: c["crossmesh:clusters"][0]["nodes"].update(desired=3),
    ],
    ids=["nat gateways", "flow logs", "node count"],
)
def test_network_changes_that_keep_the_subnets_pass(change: Any) -> None:
    assert _problems("dev", change) == []


def _with_zone_names(state: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The state as AWS fills it: each subnet's outputs also hold its zone's name (CloudMocks' mapping,
    use1-az1 is us-east-1a)."""
    for resource in state:
        if resource["type"] == "aws:ec2/subnet:Subnet":
            zone_id = resource["inputs"]["availabilityZoneId"]
            letter = "abcdef"[int(zone_id.rsplit("az", 1)[1]) - 1]
            resource["outputs"] = {**resource["outputs"], "availabilityZone": f"us-east-1{letter}"}
    return state


def _zone_problems(zones: list[str], *, names_in_state: bool = True) -> list[str]:
    document = variant("dev", lambda c: c["crossmesh:network"].update(availabilityZones=zones))
    state = exported_state(record_env("dev"))
    if names_in_state:
        state = _with_zone_names(state)
    return [str(p) for p in fixed_setting_problems(parse_stack_file(document, "dev"), state)]


def test_pinning_the_zones_the_stack_already_uses_passes() -> None:
    assert _zone_problems(["us-east-1a", "us-east-1b"]) == []


@pytest.mark.parametrize("zones", [["us-east-1a", "us-east-1c"], ["us-east-1b", "us-east-1a"]])
def test_pinning_other_zones_is_refused(zones: list[str]) -> None:
    # Subnets are named by zone: network-private-use1-az3 would be a new subnet given 172.16.32.0/19,
    # which network-private-use1-az2 still holds; swapped zones swap the blocks the same way.
    problems = _zone_problems(zones)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"crossmesh:network.availabilityZones: got {json.dumps(zones)}; expected use1-az1 (us-east-1a), "
        "use1-az2 (us-east-1b) in that order, the zones the deployed subnets are in"
    )


def test_zones_are_not_judged_against_a_state_that_does_not_name_them() -> None:
    assert _zone_problems(["us-east-1a", "us-east-1c"], names_in_state=False) == []


def test_another_region_is_refused_and_the_network_is_not_blamed_too() -> None:
    # A VPC's ARN names its region (arn:aws:ec2:<region>:<account>:vpc/<id>).
    assert deployed_region(exported_state(record_env("dev"))) == "us-east-1"
    problems = _problems("dev", lambda c: c.__setitem__("aws:region", "eu-west-1"))
    assert problems == [
        "aws:region: got 'eu-west-1'; expected us-east-1, the region the deployed stack's VPC and clusters "
        "are in: another region replaces every resource, and the replacements of its IAM roles would take "
        "names the originals still hold"
    ]
