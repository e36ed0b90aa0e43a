"""What a deployed stack cannot change in place: a stack file that changes it is refused, naming the key,
the value given and the value the stack was built with; one that keeps it passes."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config_parse import parse_stack_file
from infra.fixed_settings import deployed_service_cidrs, fixed_setting_problems
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
