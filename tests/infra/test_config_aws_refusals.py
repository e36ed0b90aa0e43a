"""Values the model used to accept that AWS, EKS or the clusters would refuse (or silently change) during
``pulumi up``, half-way through a deploy: each is now refused up front, naming the key, and the value
next to it that AWS does take still passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pulumi
import pytest

import infra.config as config_module
from infra.config import (
    DEFAULT_KUBERNETES_VERSION,
    EKS_VERSION_CALENDAR,
    LOG_RETENTION_DAYS,
    SUPPORTED_KUBERNETES_VERSIONS,
    StackConfig,
    architecture_of,
    extended_support_notes,
    kubernetes_version_problem,
)
from infra.config_parse import ConfigError, calendar_problems, parse_stack_file
from infra.known import known_regions, partition_of
from infra.mesh import backend_for
from tests.support import PROJECT_DIR, record_document, variant

Change = Callable[[dict[str, Any]], None]


def parse(change: Change, env: str = "dev") -> StackConfig:
    """The model's checks, then the backend's (its names and limits), as the render and the CLI run them."""
    config = parse_stack_file(variant(env, change), env)
    backend_for(config)
    return config


def refusal(change: Change, env: str = "dev") -> str:
    with pytest.raises(ConfigError) as caught:
        parse(change, env)
    return str(caught.value)


def lattice(**settings: Any) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:mesh"]["lattice"].update(settings)

    return change


# CloudWatch Logs PutRetentionPolicy takes only its listed values (API_PutRetentionPolicy.html).
def test_access_log_retention_must_be_one_cloudwatch_takes() -> None:
    message = refusal(lattice(accessLogs={"retentionDays": 2}))
    assert "crossmesh:mesh.lattice.accessLogs.retentionDays" in message
    assert "CloudWatch Logs accepts" in message
    assert parse(lattice(accessLogs={"retentionDays": 3})).mesh.lattice.access_logs.retention_days == 3
    assert 2 not in LOG_RETENTION_DAYS


# HealthCheckPath in botocore's vpc-lattice model: "^/[a-zA-Z0-9@:%_+.~#?&/=-]*$".
@pytest.mark.parametrize("path", ["/health(z)", "/healthz!", "/a;b", "/a*b", "/a$b", "/[x]", "/a,b", "/a'b"])
def test_health_check_path_takes_only_what_lattice_takes(path: str) -> None:
    message = refusal(lattice(healthCheck={"path": path}))
    assert "crossmesh:mesh.lattice.healthCheck.path" in message
    assert "percent-encode" in message


def test_health_check_path_with_lattices_own_characters_passes() -> None:
    path = "/health%28z%29/a-b_c.d~e@f:g?h=1&i=+#j"
    assert parse(lattice(healthCheck={"path": path})).mesh.lattice.health_check.path == path


def test_health_check_path_pattern_is_botocores() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("vpc-lattice")
    assert "^/[a-zA-Z0-9@:%_+.~#?&/=-]*$" in model.shape_for("HealthCheckPath").metadata["pattern"]


# ServiceNetworkName: 3-63 characters (botocore's vpc-lattice model, API_CreateServiceNetwork.html).
@pytest.mark.parametrize("name", ["ab", "a"])
def test_service_network_name_has_at_least_three_characters(name: str) -> None:
    message = refusal(lattice(serviceNetwork=name))
    assert "crossmesh:mesh.lattice.serviceNetwork" in message
    assert "at least 3" in message


def test_three_character_service_network_name_passes() -> None:
    assert parse(lattice(serviceNetwork="abc")).mesh.lattice.service_network == "abc"


def test_lattice_name_minimums_are_botocores() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("vpc-lattice")
    for shape in ("ServiceNetworkName", "ServiceName", "TargetGroupName"):
        assert model.shape_for(shape).metadata["min"] == 3


def _versions(count: int) -> Change:
    def change(config: dict[str, Any]) -> None:
        weights = [100 // count + (1 if i < 100 % count else 0) for i in range(count)]
        config["crossmesh:workloads"]["colorapp"]["versions"] = [
            {"color": f"c{i}", "cluster": "eksc2", "weight": w} for i, w in enumerate(weights)
        ]

    return change


# ForwardAction.targetGroups: 1-10 items (API_ForwardAction.html; WeightedTargetGroupList in botocore).
def test_lattice_takes_at_most_ten_weighted_versions() -> None:
    message = refusal(_versions(11))
    assert "crossmesh:workloads.colorapp.versions" in message
    assert "at most 10 target groups" in message
    assert len(parse(_versions(10)).workloads.colorapp.versions) == 10


def test_lattice_forward_limit_is_botocores() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("vpc-lattice")
    assert model.shape_for("ForwardAction").members["targetGroups"].metadata["max"] == 10


def _instance_types(*types: str) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][0]["nodes"]["instanceTypes"] = list(types)

    return change


def test_a1_is_graviton() -> None:
    assert architecture_of("a1.large") == "arm64"
    assert architecture_of("a1.metal") == "arm64"
    assert architecture_of("m5.large") == "x86_64"
    assert architecture_of("g4ad.xlarge") == "x86_64"
    # a1 with another Graviton type is one architecture; with an x86 type it is two
    assert parse(_instance_types("a1.large", "m6g.large")).clusters[0].nodes.instance_types == (
        "a1.large",
        "m6g.large",
    )
    assert "crossmesh:clusters[0].nodes.instanceTypes" in refusal(_instance_types("a1.large", "m5.large"))


def _endpoint_cidrs(*cidrs: str) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][0]["endpoint"] = {"publicAccessCidrs": list(cidrs)}

    return change


@pytest.mark.parametrize(
    ("cidr", "reserved"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.20.0.0/16", "10.0.0.0/8"),
        ("192.168.1.0/24", "192.168.0.0/16"),
        ("172.16.0.0/12", "172.16.0.0/12"),
        ("100.64.0.0/10", "100.64.0.0/10"),
        ("127.0.0.1/32", "127.0.0.0/8"),
        ("169.254.0.0/16", "169.254.0.0/16"),
        ("198.18.0.0/16", "198.18.0.0/15"),
        ("224.0.0.0/4", "224.0.0.0/4"),
    ],
)
def test_public_endpoint_allowlist_refuses_reserved_ranges(cidr: str, reserved: str) -> None:
    message = refusal(_endpoint_cidrs("198.51.99.0/24", cidr))
    assert "crossmesh:clusters[0].endpoint.publicAccessCidrs[1]" in message
    assert f"reserved range {reserved}" in message


# A documentation range is a placeholder: rendered, and refused by deploy (automation/placeholders.py).
@pytest.mark.parametrize(
    "cidrs", [("0.0.0.0/0",), ("203.0.112.0/24", "8.8.8.8/32"), ("11.0.0.0/8",), ("203.0.113.0/24",)]
)
def test_public_endpoint_allowlist_takes_public_blocks_and_placeholders(cidrs: tuple[str, ...]) -> None:
    assert parse(_endpoint_cidrs(*cidrs)).clusters[0].endpoint.public_access_cidrs == cidrs


def _source_ranges(count: int) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["front"]["loadBalancerSourceRanges"] = [
            f"198.51.{i}.0/24" for i in range(count)
        ]

    return change


# Two rules per range in the load balancer's security group, 60 inbound rules by default.
def test_load_balancer_takes_at_most_thirty_source_ranges() -> None:
    message = refusal(_source_ranges(31))
    assert "crossmesh:workloads.front.loadBalancerSourceRanges" in message
    assert "expected at most 30" in message
    assert len(parse(_source_ranges(30)).workloads.front.load_balancer_source_ranges) == 30


def _namespace(name: str) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:mesh"]["cloudMapNamespace"] = name

    return change


@pytest.mark.parametrize("name", ["cluster.local", "svc.cluster.local", "appmesh-demo.svc.cluster.local"])
def test_discovery_namespace_is_not_a_zone_coredns_answers(name: str) -> None:
    message = refusal(_namespace(name))
    assert "crossmesh:mesh.cloudMapNamespace" in message
    assert "could never resolve colorapp" in message


def test_discovery_namespace_merely_ending_like_the_cluster_domain_passes() -> None:
    assert parse(_namespace("mycluster.local")).mesh.cloud_map_namespace == "mycluster.local"


def _tags(tags: dict[str, str]) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:tags"] = tags

    return change


# The cloud provider splits aws-load-balancer-additional-resource-tags at ',' and '=' and trims each pair
# (getKeyValuePropertiesFromAnnotation in kubernetes/cloud-provider-aws): "team=a=b" tags the ELB team=a.
@pytest.mark.parametrize(
    "tags", [{"team": "a=b"}, {"a=b": "x"}, {"team": "abc=="}, {"team": "x "}, {" team": "x"}]
)
def test_tags_the_load_balancer_annotation_would_change_are_refused(tags: dict[str, str]) -> None:
    message = refusal(_tags(tags))
    assert "crossmesh:tags." in message
    assert "expected a tag without '=', no space before its key and none after its value" in message


# Only each pair's ends are trimmed: a space after a key or before a value survives the annotation.
@pytest.mark.parametrize("tags", [{"cost center": "team a"}, {"team ": "x"}, {"team": " x"}, {"team": ""}])
def test_tags_the_annotation_carries_as_they_are_pass(tags: dict[str, str]) -> None:
    assert dict(parse(_tags(tags)).tags) == tags


def _operators(*arns: str) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:operators"] = list(arns)

    return change


def test_principals_must_be_of_the_regions_partition() -> None:
    message = refusal(
        _operators("arn:aws:iam::210987654321:role/ops", "arn:aws-us-gov:iam::210987654321:role/o")
    )
    assert "crossmesh:operators[1]" in message
    assert "partition 'aws-us-gov'" in message
    assert "us-east-1 is in 'aws'" in message

    def admins(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][1]["adminPrincipalArns"] = ["arn:aws-cn:iam::210987654321:user/x"]

    assert "crossmesh:clusters[1].adminPrincipalArns[0]" in refusal(admins)
    assert parse(_operators("arn:aws:iam::210987654321:role/ops")).operators == (
        "arn:aws:iam::210987654321:role/ops",
    )


def test_partitions_come_from_botocore() -> None:
    assert partition_of("us-east-1") == "aws"
    assert partition_of("cn-north-1") == "aws-cn"
    assert partition_of("us-gov-west-1") == "aws-us-gov"
    assert partition_of("nowhere-1") is None


# The Amazon EKS Kubernetes release calendar (kubernetes-versions.html#kubernetes-release-calendar):
# "On the end of extended support date, you can no longer create new Amazon EKS clusters with the
# unsupported version"; 1.31's extended support ended on 2026-11-26, 1.32's ends on 2027-03-23.
def _on(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    monkeypatch.setattr(config_module, "utc_today", lambda: day)


def _version(version: str) -> Change:
    return lambda config: config.update({"crossmesh:kubernetesVersion": version})


def test_kubernetes_1_31_is_past_its_end_of_extended_support_and_refused() -> None:
    # Not in the calendar any more: its extended support ended on 2026-11-26.
    message = refusal(_version("1.31"))
    assert "crossmesh:kubernetesVersion: got '1.31'" in message
    assert "expected one of 1.32, 1.33, 1.34, 1.35" in message


def _expired(change: Change, day: date) -> list[str]:
    return [str(p) for p in calendar_problems(parse(change), day)]


def test_a_version_is_refused_from_its_end_of_extended_support_naming_the_date() -> None:
    assert _expired(_version("1.32"), date(2027, 3, 22)) == []
    (problem,) = _expired(_version("1.32"), date(2027, 3, 23))
    assert problem.startswith(
        "crossmesh:kubernetesVersion: got '1.32'; Kubernetes 1.32 left Amazon EKS on 2027-03-23"
    )
    assert problem.endswith("expected one of 1.33, 1.34, 1.35 (a quoted string)")


def test_a_clusters_own_version_is_held_to_the_calendar_too() -> None:
    def older_first_cluster(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][0]["kubernetesVersion"] = "1.33"

    (problem,) = _expired(older_first_cluster, date(2027, 7, 29))
    assert problem.startswith(
        "crossmesh:clusters[0].kubernetesVersion: got '1.33'; Kubernetes 1.33 left Amazon EKS"
    )


def test_a_stack_on_a_version_that_has_left_eks_still_parses_so_it_can_be_destroyed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The calendar is judged where a cluster would be made or updated (up, preview, render), not when the
    # stack file is read: destroy, refresh and verify of such a stack must still run.
    _on(monkeypatch, date(2027, 3, 23))
    assert parse(_version("1.32")).kubernetes_version == "1.32"


def test_every_offered_version_has_its_calendar_dates() -> None:
    assert set(SUPPORTED_KUBERNETES_VERSIONS) == set(EKS_VERSION_CALENDAR)
    for support in EKS_VERSION_CALENDAR.values():
        # 12 months of extended support after the end of standard support.
        end, extended = support.end_of_standard_support, support.end_of_extended_support
        assert (extended.year - end.year, extended.month, extended.day) == (1, end.month, end.day)
    assert kubernetes_version_problem(DEFAULT_KUBERNETES_VERSION, date(2026, 12, 8)) is None


def test_new_stacks_and_the_committed_environments_start_on_the_newest_version_offered() -> None:
    # A stack on a version past its end of standard support pays extended support from its first hour;
    # the newest version of the calendar is the one in standard support longest.
    newest = max(EKS_VERSION_CALENDAR, key=lambda v: EKS_VERSION_CALENDAR[v].end_of_standard_support)
    assert newest == DEFAULT_KUBERNETES_VERSION
    for env in ("dev", "staging", "prod", "appmesh"):
        text = (PROJECT_DIR / f"Pulumi.{env}.yaml").read_text(encoding="utf-8")
        assert f'crossmesh:kubernetesVersion: "{newest}"' in text, env


def test_extended_support_is_a_warning_naming_the_charge_the_clusters_and_the_way_out() -> None:
    config = parse(_version("1.34"))
    assert extended_support_notes(config, date(2026, 12, 1)) == []
    (note,) = extended_support_notes(config, date(2026, 12, 2))
    assert note.startswith("Kubernetes 1.34 left EKS standard support on 2026-12-02: clusters eksc1, eksc2 ")
    assert "billed per cluster hour" in note
    assert "until 2027-12-02, when EKS upgrades the control plane itself" in note
    assert "1.35 is in standard support (crossmesh:kubernetesVersion)" in note
    assert extended_support_notes(parse(_version("1.35")), date(2026, 12, 8)) == []


# VPC Lattice's endpoints (general/latest/gr/vpc-lattice-service.html, as botocore's endpoint data
# lists them) cover fewer regions than EKS's: il-central-1, ap-southeast-7 and the GovCloud and China
# regions have EKS but no VPC Lattice.
def _region(region: str) -> Change:
    return lambda config: config.update({"aws:region": region})


@pytest.mark.parametrize("region", ["il-central-1", "ap-southeast-7", "us-gov-west-1", "cn-north-1"])
def test_the_lattice_backend_refuses_a_region_without_vpc_lattice(region: str) -> None:
    assert region in known_regions()
    message = refusal(_region(region))
    assert f"aws:region: got '{region}'; VPC Lattice has no endpoint in {region}" in message
    assert "expected a region with both EKS and VPC Lattice: af-south-1, " in message


def test_a_region_with_vpc_lattice_passes_and_app_mesh_is_not_held_to_it() -> None:
    assert parse(_region("eu-west-1")).region == "eu-west-1"
    assert parse(_region("il-central-1"), env="appmesh").region == "il-central-1"


def test_the_extended_support_warning_names_the_key_that_sets_the_version() -> None:
    # A cluster's own kubernetesVersion overrides the stack-wide one: the warning must name the key to
    # change, not crossmesh:kubernetesVersion, which already says 1.35.
    def first_cluster_on_1_34(config: dict[str, Any]) -> None:
        config["crossmesh:kubernetesVersion"] = "1.35"
        config["crossmesh:clusters"][0]["kubernetesVersion"] = "1.34"

    (note,) = extended_support_notes(parse(first_cluster_on_1_34), date(2026, 12, 8))
    assert note.startswith("Kubernetes 1.34 left EKS standard support on 2026-12-02: cluster eksc1 runs ")
    assert note.endswith("(crossmesh:clusters[0].kubernetesVersion)")
    assert "(crossmesh:kubernetesVersion)" not in note


def test_pulumi_up_refuses_a_version_that_has_left_eks_before_any_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The program reads its configuration for up and preview only (config_parse.from_pulumi).
    _on(monkeypatch, date(2027, 3, 23))
    with pytest.raises(pulumi.RunError) as caught:
        record_document(variant("dev", _version("1.32")), "dev")
    assert "crossmesh:kubernetesVersion: got '1.32'; Kubernetes 1.32 left Amazon EKS on 2027-03-23" in str(
        caught.value
    )
