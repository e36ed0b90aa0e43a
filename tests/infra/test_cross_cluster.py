"""The cross-cluster rule: app port only, between node security groups, nothing wider."""

from __future__ import annotations

import re

from infra.config import StackConfig
from infra.config_parse import parse_stack_file
from infra.cross_cluster import AccessRule
from infra.mesh import backend_for
from infra.topology import topology_of
from tests.support import inputs, record_document, record_env, stack_document, three_clusters, variant

RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def cross_cluster_rules(config: StackConfig) -> tuple[AccessRule, ...]:
    """The doors the configured backend (App Mesh in these environments) asks for."""
    return backend_for(config).cross_cluster_rules(topology_of(config))


# EC2 allows only these characters in a security group rule description
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpPermission.html, IpRange.Description).
DESCRIPTION = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")


def test_dev_opens_8080_on_colorapp_nodes_from_front_nodes_only() -> None:
    recording = record_env("appmesh")
    rules = recording.of_type(RULE)
    assert [r.name for r in rules] == ["cross-cluster-eksc1-to-eksc2-8080"]
    rule = dict(rules[0].inputs)
    description = rule.pop("description")
    rule.pop("tags")
    assert rule == {
        # the EKS cluster security group of eksc2 (what its managed nodes wear) ...
        "securityGroupId": "<eksc2-eks.clusterSecurityGroupId>",
        # ... accepts from the one eksc1's nodes wear, on the app port, TCP only
        "referencedSecurityGroupId": "<eksc1-eks.clusterSecurityGroupId>",
        "ipProtocol": "tcp",
        "fromPort": 8080,
        "toPort": 8080,
    }
    assert "cidrIpv4" not in rule
    assert DESCRIPTION.match(description), description


def test_no_security_group_rule_anywhere_opens_a_cidr() -> None:
    recording = record_env("appmesh")
    for rule in recording.of_type(RULE):
        assert "cidrIpv4" not in rule.inputs
        assert "cidrIpv6" not in rule.inputs
    assert recording.of_type("aws:ec2/securityGroupRule:SecurityGroupRule") == []


def test_rule_follows_the_configured_port() -> None:
    recording = record_document(variant("appmesh", lambda c: c["crossmesh:workloads"].update(port=9090)))
    rule = inputs(recording, RULE, "cross-cluster-eksc1-to-eksc2-9090")
    assert (rule["fromPort"], rule["toPort"]) == (9090, 9090)


def test_three_clusters_get_one_rule_per_colorapp_cluster() -> None:
    config = parse_stack_file(variant("appmesh", three_clusters), "appmesh")
    assert [(r.source, r.target, r.port) for r in cross_cluster_rules(config)] == [
        ("eksc1", "eksc2", 8080),
        ("eksc1", "eksc3", 8080),
    ]


def test_same_cluster_needs_no_rule() -> None:
    def together(config: dict[str, object]) -> None:
        workloads = config["crossmesh:workloads"]
        assert isinstance(workloads, dict)
        workloads["front"]["cluster"] = "eksc2"

    assert cross_cluster_rules(parse_stack_file(variant("appmesh", together), "appmesh")) == ()


def test_rules_are_deduplicated() -> None:
    config = parse_stack_file(stack_document("appmesh"), "appmesh")
    rules = cross_cluster_rules(config)
    assert rules == (AccessRule("eksc1", "eksc2", 8080, "front to colorapp-blue mesh traffic"),)
