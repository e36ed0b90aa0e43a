"""Subnet planning and load-balancer subnet tags."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from infra.network import (
    SubnetPlanError,
    Tier,
    ZoneChoiceError,
    choose_zone_ids,
    plan_subnets,
    service_cidr_problem,
    subnet_tags,
)

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


NAMES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
IDS = ["use1-az4", "use1-az6", "use1-az1", "use1-az2"]


def _offered(types: list[str], zones: list[str]) -> list[tuple[str, str]]:
    return [(t, z) for t in types for z in zones]


def test_zones_are_chosen_by_id_among_those_offering_every_instance_type() -> None:
    # use1-az6 lacks m6a.xlarge: skipped, although its name comes second.
    offered = [
        *_offered(["m6i.xlarge"], IDS),
        *_offered(["m6a.xlarge"], ["use1-az4", "use1-az1", "use1-az2"]),
    ]
    chosen = choose_zone_ids(
        region="us-east-1",
        names=NAMES,
        zone_ids=IDS,
        offered=offered,
        instance_types=["m6i.xlarge", "m6a.xlarge"],
        count=2,
    )
    assert chosen == ["use1-az4", "use1-az1"]


def test_too_few_zones_offering_the_types_is_an_error_naming_region_and_types() -> None:
    with pytest.raises(
        ValueError,
        match=r"crossmesh:network.azCount: got 3; 3 zones wanted but only 1 us-east-1 zones offering every instance type \(m7g.large, t3.medium\): use1-az1",
    ):
        choose_zone_ids(
            region="us-east-1",
            names=NAMES,
            zone_ids=IDS,
            offered=[*_offered(["t3.medium"], IDS), ("m7g.large", "use1-az1")],
            instance_types=["t3.medium", "m7g.large"],
            count=3,
        )


def test_explicit_zones_by_name_or_id_must_exist_and_offer_the_types() -> None:
    kwargs = {
        "region": "us-east-1",
        "names": NAMES,
        "zone_ids": IDS,
        "instance_types": ["t3.medium"],
        "count": 2,
    }
    offered = _offered(["t3.medium"], ["use1-az4", "use1-az1"])
    assert choose_zone_ids(offered=offered, wanted=["us-east-1c", "use1-az4"], **kwargs) == [
        "use1-az1",
        "use1-az4",
    ]
    with pytest.raises(ZoneChoiceError) as unknown:
        choose_zone_ids(offered=offered, wanted=["us-east-1a", "us-east-1z"], **kwargs)
    assert unknown.value.problems == (
        (
            "network.availabilityZones[1]",
            "us-east-1z",
            "expected a zone this account has in us-east-1: "
            + ", ".join(NAMES)
            + " ("
            + ", ".join(IDS)
            + ")",
        ),
    )
    with pytest.raises(ZoneChoiceError) as lacking:
        choose_zone_ids(offered=offered, wanted=["us-east-1a", "us-east-1b"], **kwargs)
    assert lacking.value.problems == (
        (
            "network.availabilityZones[1]",
            "us-east-1b",
            "does not offer every instance type; expected one of the us-east-1 zones offering every "
            "instance type (t3.medium): use1-az4, use1-az1",
        ),
    )


# EKS user guide, subnet requirements for clusters (network-reqs.html#cluster-subnets): "The subnets
# can't reside in the following Availability Zones": use1-az3, usw1-az2, cac1-az3.
@pytest.mark.parametrize(
    ("region", "ids", "refused"),
    [
        ("us-east-1", ["use1-az1", "use1-az2", "use1-az3", "use1-az4"], "use1-az3"),
        ("us-west-1", ["usw1-az1", "usw1-az2", "usw1-az3"], "usw1-az2"),
        ("ca-central-1", ["cac1-az1", "cac1-az2", "cac1-az3", "cac1-az4"], "cac1-az3"),
    ],
)
def test_zones_eks_refuses_for_cluster_subnets_are_never_chosen(
    region: str, ids: list[str], refused: str
) -> None:
    names = [f"{region}{letter}" for letter in "abcd"[: len(ids)]]
    kwargs = {"region": region, "names": names, "zone_ids": ids, "instance_types": ["t3.medium"]}
    offered = _offered(["t3.medium"], ids)
    chosen = choose_zone_ids(offered=offered, count=len(ids) - 1, **kwargs)
    assert refused not in chosen
    assert chosen == [z for z in ids if z != refused]
    with pytest.raises(ZoneChoiceError) as too_few:
        choose_zone_ids(offered=offered, count=len(ids), **kwargs)
    ((key, _, expected),) = too_few.value.problems
    assert key == "network.azCount"
    assert f"less {refused}, where EKS takes no cluster subnet" in expected
    wanted = [names[0], refused]
    with pytest.raises(ZoneChoiceError) as named:
        choose_zone_ids(offered=offered, count=2, wanted=wanted, **kwargs)
    ((key, value, expected),) = named.value.problems
    assert (key, value) == ("network.availabilityZones[1]", refused)
    assert expected.startswith(f"is {refused}, a zone EKS takes no cluster subnet in")
