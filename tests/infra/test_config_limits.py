"""The composed-name limits cover every physical name the program creates, and the longest names the
configuration accepts stay inside every limit when the program actually runs."""

from __future__ import annotations

from typing import Any

import pytest

from automation.recorder import Recording
from infra.config import StackConfig
from infra.config_limits import composed_names
from infra.config_parse import parse_stack_file
from tests.support import record_document, record_env, stack_document, variant

# Type, input holding the physical name, and which composed names must list it.
NAMED: list[tuple[str, str, str]] = [
    ("aws:iam/role:Role", "name", "IAM role name"),
    ("eks:index:Cluster", "name", "EKS cluster name"),
    ("eks:index:ManagedNodeGroup", "nodeGroupNamePrefix", "node group name prefix"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "name", "launch template name"),
    ("aws:vpclattice/serviceNetwork:ServiceNetwork", "name", "VPC Lattice service network name"),
]


def _recorded(recording: Recording) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for type_, field, what in NAMED:
        for registration in recording.of_type(type_):
            value = registration.inputs.get(field)
            if isinstance(value, str):
                found.setdefault(what, set()).add(value)
    return found


def _listed(config: StackConfig) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for composed in composed_names(config):
        out.setdefault(composed.what, {})[composed.name] = composed.limit
    return out


@pytest.mark.parametrize("env", ["appmesh", "dev"])
def test_every_recorded_physical_name_is_checked(env: str) -> None:
    config = parse_stack_file(stack_document(env), env)
    listed = _listed(config)
    recorded = _recorded(record_env(env))
    assert recorded["IAM role name"]
    for what, names in recorded.items():
        assert names <= set(listed[what]), f"{what}: {sorted(names - set(listed[what]))} not checked"


def _longest(config: dict[str, Any]) -> None:
    """Names as long as the limits let them be, for a stack named ``dev``."""
    clusters = config["crossmesh:clusters"]
    long_cluster = "c" * 31  # crossmesh-dev-<31>-appmesh-controller is 64; <31>-dev- is 36
    clusters[1]["name"] = long_cluster
    colorapp = config["crossmesh:workloads"]["colorapp"]
    colorapp["name"] = "app"
    for version in colorapp["versions"]:
        version["cluster"] = long_cluster
    colorapp["versions"][0]["color"] = "b" * (64 - len(f"crossmesh-dev-{long_cluster}-app-"))


def test_names_at_the_limits_are_accepted_and_stay_inside_them_when_the_program_runs() -> None:
    document = variant("dev", _longest)
    config = parse_stack_file(document, "dev")
    listed = _listed(config)
    recording = record_document(document)
    for what, names in _recorded(recording).items():
        for name in names:
            assert len(name) <= listed[what][name], f"{what} {name!r} over {listed[what][name]}"
    assert max(len(n) for n in listed["IAM role name"]) == 64


def test_one_character_more_is_refused() -> None:
    from infra.config_parse import ConfigError

    def longer(config: dict[str, Any]) -> None:
        _longest(config)
        config["crossmesh:workloads"]["colorapp"]["versions"][0]["color"] += "b"

    with pytest.raises(ConfigError, match=r"versions\[0\]\.color: got 'b+'; composes the IAM role name"):
        parse_stack_file(variant("dev", longer), "dev")
