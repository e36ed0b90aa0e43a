"""Top-level keys of a stack file as Pulumi reads them: namespaces, bare keys and keys that name nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.config_parse import ConfigError, flatten_config, parse_config, parse_stack_file
from tests.support import variant

Change = Callable[[dict[str, Any]], None]


def _problems(change: Change) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_file(variant("dev", change), "dev")
    return [str(p) for p in caught.value.problems]


def _renamed(old: str, new: Any) -> Change:
    def change(config: dict[str, Any]) -> None:
        config[new] = config.pop(old)

    return change


NETWORK = '{"cidr": "172.16.0.0/16", "azCount": 2, "natGateways": "single"}'


def test_a_key_without_a_namespace_is_the_projects() -> None:
    # https://www.pulumi.com/docs/iac/concepts/config/: a key without a colon takes the project's name
    # as its namespace, so `network:` is crossmesh:network, for the model and for the program alike.
    def bare(config: dict[str, Any]) -> None:
        config.pop("crossmesh:network")
        config["network"] = {"cidr": "10.20.0.0/16"}

    config = parse_stack_file(variant("dev", bare), "dev")
    assert config.network.cidr == "10.20.0.0/16"
    assert flatten_config({"network": {"cidr": "10.20.0.0/16"}}) == {
        "crossmesh:network": '{"cidr": "10.20.0.0/16"}'
    }


def test_a_bare_region_is_crossmesh_region_and_points_at_aws_region() -> None:
    assert _problems(_renamed("aws:region", "region")) == [
        "aws:region: got (missing); expected the AWS region, e.g. us-east-1",
        "crossmesh:region: got 'us-east-1'; unknown key; did you mean 'aws:region'? expected one of "
        "crossmesh:clusters, crossmesh:deletionProtection, crossmesh:kubernetesVersion, crossmesh:mesh, "
        "crossmesh:network, crossmesh:operators, crossmesh:policy, crossmesh:tags, crossmesh:trafficWeights, "
        "crossmesh:workloads",
    ]


def test_a_misspelt_namespace_is_refused_with_the_key_meant() -> None:
    assert _problems(_renamed("crossmesh:network", "crosmesh:network")) == [
        f"crosmesh:network: got {NETWORK}; unknown namespace 'crosmesh'; did you mean "
        "'crossmesh:network'? expected crossmesh: for this program's keys (keys of other namespaces go to "
        "their providers, e.g. aws:region)"
    ]


def test_a_dot_for_the_colon_is_an_unknown_project_key_with_the_key_meant() -> None:
    found = _problems(_renamed("crossmesh:network", "crossmesh.network"))
    assert len(found) == 1
    assert found[0].startswith(
        f"crossmesh:crossmesh.network: got {NETWORK}; unknown key; did you mean 'crossmesh:network'? "
    )


def test_only_a_namespace_close_to_crossmesh_is_taken_for_a_typo() -> None:
    # Other namespaces are not taken for typos: pulumi and eks pass; crossmeshh does not. aws: and
    # kubernetes: keys the program does not read are refused for another reason (test_account_guard).
    raw = {
        "aws:region": "us-east-1",
        "crossmesh:clusters": '[{"name": "eksc1"}, {"name": "eksc2"}]',
        "aws:profile": "dev",
        "kubernetes:context": "kind",
        "pulumi:tags": "{}",
        "eks:foo": "1",
        "crossmeshh:tags": "{}",
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "dev")
    assert [p.key for p in caught.value.problems] == ["aws:profile", "kubernetes:context", "crossmeshh:tags"]


@pytest.mark.parametrize(
    ("key", "shown"), [(None, "a null key (~ or null)"), ("", "an empty key ''"), ("  ", "an empty key '  '")]
)
def test_a_key_that_names_nothing_is_refused(key: Any, shown: str) -> None:
    assert _problems(lambda c: c.update({key: "x"})) == [
        f"config: got {shown}; expected every key to have a name, like crossmesh:network or aws:region"
    ]


@pytest.mark.parametrize("key", [":network", "crossmesh:"])
def test_a_key_missing_either_part_is_refused(key: str) -> None:
    assert _problems(lambda c: c.update({key: "x"})) == [
        f"{key}: got 'x'; expected <namespace>:<name> with both parts, like crossmesh:network or aws:region"
    ]


def test_one_key_with_and_without_its_namespace_is_given_twice() -> None:
    assert _problems(lambda c: c.update({"kubernetesVersion": "1.33"})) == [
        "crossmesh:kubernetesVersion: got '1.33'; given twice, as crossmesh:kubernetesVersion and as "
        "kubernetesVersion (a key without a namespace is crossmesh's, and <namespace>:config:<name> is "
        "<namespace>:<name>); expected it once"
    ]


def test_the_old_config_form_of_a_key_is_the_key() -> None:
    # Pulumi reads <namespace>:config:<name> as <namespace>:<name> (config/key.go, ParseKey): the
    # offline checks took crossmesh:config:network for an unknown key and aws:config:region for a key
    # beside aws:region, one of which pulumi up would then apply.
    assert parse_stack_file(variant("dev", _renamed("crossmesh:network", "crossmesh:config:network")), "dev")
    assert _problems(lambda c: c.update({"aws:config:region": "eu-west-1"})) == [
        "aws:region: got 'eu-west-1'; given twice, as aws:region and as aws:config:region (a key without a "
        "namespace is crossmesh's, and <namespace>:config:<name> is <namespace>:<name>); expected it once"
    ]


@pytest.mark.parametrize("key", ["aws:foo:bar", "crossmesh:network:cidr", "a:b:c:d", "aws:config:region:x"])
def test_a_key_with_more_than_one_colon_is_refused(key: str) -> None:
    # Pulumi refuses the whole file: "could not parse ... as a configuration key".
    assert _problems(lambda c: c.update({key: "x"})) == [
        f"{key}: got 'x'; expected <namespace>:<name> with one colon, like crossmesh:network or aws:region: "
        "Pulumi cannot read a key with more (only the old form <namespace>:config:<name>)"
    ]
