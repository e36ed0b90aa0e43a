"""Subnet planning and load-balancer subnet tags."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from infra.network import SubnetPlanError, Tier, choose_azs, plan_subnets, service_cidr_problem, subnet_tags

AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_dev_plan_is_the_expected_blocks() -> None:
    plan = plan_subnets("172.16.0.0/16", AZS[:2], private_prefix=19, public_prefix=24)
    assert [(p.tier, p.az, p.cidr) for p in plan] == [
        (Tier.PRIVATE, "us-east-1a", "172.16.0.0/19"),
        (Tier.PRIVATE, "us-east-1b", "172.16.32.0/19"),
        (Tier.PUBLIC, "us-east-1a", "172.16.64.0/24"),
        (Tier.PUBLIC, "us-east-1b", "172.16.65.0/24"),
    ]
    assert plan[0].key == "private-us-east-1a"


@pytest.mark.parametrize(
    ("cidr", "private", "public"),
    [("10.0.0.0/16", 19, 24), ("10.30.0.0/16", 18, 24), ("10.1.0.0/20", 23, 28)],
)
def test_subnets_never_overlap_and_stay_inside_the_vpc(cidr: str, private: int, public: int) -> None:
    plan = plan_subnets(cidr, AZS, private_prefix=private, public_prefix=public)
    networks = [ipaddress.IPv4Network(p.cidr) for p in plan]
    vpc = ipaddress.IPv4Network(cidr)
    assert all(n.subnet_of(vpc) for n in networks)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(networks, 2))
    assert {n.prefixlen for n, p in zip(networks, plan, strict=True) if p.tier is Tier.PRIVATE} == {private}


def test_too_many_subnets_is_an_error_with_the_arithmetic() -> None:
    with pytest.raises(SubnetPlanError, match=r"need 99072 addresses; the /16 VPC has 65536"):
        plan_subnets("172.16.0.0/16", AZS, private_prefix=17, public_prefix=24)


def test_subnet_larger_than_vpc_is_an_error() -> None:
    with pytest.raises(SubnetPlanError, match=r"a /16 private subnet is larger than the /20 VPC"):
        plan_subnets("10.0.0.0/20", AZS, private_prefix=16, public_prefix=24)


def test_public_subnets_are_tagged_for_internet_facing_load_balancers_of_every_cluster() -> None:
    tags = subnet_tags(Tier.PUBLIC, ["eksc1-dev", "eksc2-dev"], {"project": "crossmesh"})
    assert tags == {
        "project": "crossmesh",
        "kubernetes.io/role/elb": "1",
        "crossmesh/tier": "public",
        "kubernetes.io/cluster/eksc1-dev": "shared",
        "kubernetes.io/cluster/eksc2-dev": "shared",
    }


def test_private_subnets_are_tagged_for_internal_load_balancers() -> None:
    tags = subnet_tags(Tier.PRIVATE, ["eksc1-dev"], {})
    assert tags["kubernetes.io/role/internal-elb"] == "1"
    assert "kubernetes.io/role/elb" not in tags


@pytest.mark.parametrize(
    ("service", "problem"),
    [
        ("172.20.0.0/16", None),
        ("10.100.0.0/16", None),
        ("172.16.0.0/16", "overlaps the VPC block 172.16.0.0/16; expected a range outside it"),
        ("172.20.0.0/25", "expected a prefix between /12 and /24"),
        ("100.64.0.0/16", "expected a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
    ],
)
def test_service_cidr_rules_of_eks(service: str, problem: str | None) -> None:
    assert service_cidr_problem(service, "172.16.0.0/16") == problem


def test_choose_azs_takes_the_first_ones_by_default() -> None:
    assert choose_azs(["a", "b", "c"], 2) == ["a", "b"]


def test_choose_azs_honours_explicit_zones() -> None:
    assert choose_azs(["us-east-1a", "us-east-1b", "us-east-1c"], 2, ["us-east-1c", "us-east-1a"]) == [
        "us-east-1c",
        "us-east-1a",
    ]


def test_choose_azs_refuses_a_zone_that_is_not_available() -> None:
    with pytest.raises(
        ValueError, match=r"crossmesh:network.availabilityZones: us-east-1z not available here"
    ):
        choose_azs(["us-east-1a", "us-east-1b"], 2, ["us-east-1a", "us-east-1z"])


def test_choose_azs_refuses_to_build_with_fewer_zones_than_asked() -> None:
    with pytest.raises(
        ValueError, match=r"crossmesh:network.azCount: 3 zones wanted but the region offers 2"
    ):
        choose_azs(["a", "b"], 3)
